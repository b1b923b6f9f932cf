//! The access policy for accounts (PRODUCT.md F5), as one pure function.
//!
//! Every endpoint, the proxy, step runs and the UI ask [`allows`]; nothing else decides who may
//! do what with an account.

use crate::role::Role;

/// Something a viewer may want to do with an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// See it on the Accounts page and in the API listing.
    View,
    /// Bind it to a new trigger or step.
    AddToStep,
    /// Modify existing steps that use it.
    ModifyStep,
    /// Test existing steps that use it (credentials stay on the server).
    TestStep,
    /// Change who it is shared with.
    ManageAccess,
    /// Replace its credentials by connecting again.
    Reconnect,
    /// Delete it.
    Delete,
    /// Read its raw credentials (`include_credentials`, proxy): follows [`Operation::AddToStep`].
    ReadCredentials,
    /// Rename it (nickname): follows [`Operation::Reconnect`].
    Rename,
}

impl Operation {
    /// Every operation, in the order of the matrix file.
    pub const ALL: [Operation; 9] = [
        Operation::View,
        Operation::AddToStep,
        Operation::ModifyStep,
        Operation::TestStep,
        Operation::ManageAccess,
        Operation::Reconnect,
        Operation::Delete,
        Operation::ReadCredentials,
        Operation::Rename,
    ];

    /// The name used in `access-matrix.tsv`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Operation::View => "view",
            Operation::AddToStep => "add_to_step",
            Operation::ModifyStep => "modify_step",
            Operation::TestStep => "test_step",
            Operation::ManageAccess => "manage_access",
            Operation::Reconnect => "reconnect",
            Operation::Delete => "delete",
            Operation::ReadCredentials => "read_credentials",
            Operation::Rename => "rename",
        }
    }
}

/// The F5 matrix as data (`access-matrix.tsv`), the source the tests are generated from.
pub const MATRIX_TSV: &str = include_str!("../access-matrix.tsv");

/// One cell of the matrix: may a non-owner viewer (`admin` or not) do `operation` on an account
/// that is (`shared`) or is not shared with them?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixCell {
    /// The operation.
    pub operation: Operation,
    /// Shared with the viewer.
    pub shared: bool,
    /// The viewer is a workspace owner or admin.
    pub admin: bool,
    /// The rule.
    pub allowed: bool,
}

/// Every cell of [`MATRIX_TSV`].
///
/// # Panics
/// If the file is malformed (a test catches that).
#[must_use]
pub fn matrix_cells() -> Vec<MatrixCell> {
    let mut lines = MATRIX_TSV
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("a header").split('\t').collect();
    assert_eq!(
        header,
        [
            "operation",
            "private_admin",
            "private_member",
            "shared_admin",
            "shared_member"
        ]
    );
    let mut cells = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let operation = Operation::ALL
            .into_iter()
            .find(|op| op.name() == fields[0])
            .unwrap_or_else(|| panic!("unknown operation {:?} in the matrix", fields[0]));
        for (i, (shared, admin)) in [(false, true), (false, false), (true, true), (true, false)]
            .into_iter()
            .enumerate()
        {
            let allowed = match fields.get(i + 1) {
                Some(&"yes") => true,
                Some(&"no") => false,
                other => panic!("cell {i} of {:?} is {other:?}", fields[0]),
            };
            cells.push(MatrixCell {
                operation,
                shared,
                admin,
                allowed,
            });
        }
    }
    cells
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    /// The member's user id.
    pub user_id: &'a str,
    /// The member's role in the account's workspace.
    pub role: Role,
}

/// What the policy needs to know about an account.
#[derive(Debug, Clone, Copy)]
pub struct AccountAccess<'a> {
    /// The member who connected it; `None` for legacy accounts.
    pub owner_id: Option<&'a str>,
    /// Whether the account is shared with this viewer (entire workspace, or the viewer is one of
    /// the chosen members). Legacy accounts are shared with the entire workspace.
    pub shared_with_viewer: bool,
}

/// The F5 matrix: may `viewer` perform `op` on `account`?
#[must_use]
pub fn allows(viewer: Viewer<'_>, account: AccountAccess<'_>, op: Operation) -> bool {
    if account.owner_id == Some(viewer.user_id) {
        return true;
    }
    let admin = viewer.role.is_admin();
    let shared = account.shared_with_viewer;
    match op {
        Operation::View => admin || shared,
        Operation::AddToStep | Operation::ModifyStep | Operation::ReadCredentials => shared,
        Operation::TestStep => true,
        Operation::ManageAccess | Operation::Reconnect | Operation::Delete | Operation::Rename => {
            admin
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(role: Role, owner: Option<&str>, shared: bool, op: Operation) -> bool {
        allows(
            Viewer {
                user_id: "u_viewer",
                role,
            },
            AccountAccess {
                owner_id: owner,
                shared_with_viewer: shared,
            },
            op,
        )
    }

    #[test]
    fn the_policy_is_the_matrix_file_cell_for_cell() {
        let cells = matrix_cells();
        assert_eq!(
            cells.len(),
            Operation::ALL.len() * 4,
            "every operation has a row"
        );
        for cell in cells {
            for role in if cell.admin {
                vec![Role::Owner, Role::Admin]
            } else {
                vec![Role::Member]
            } {
                for owner in [Some("u_other"), None] {
                    // Legacy accounts (no owner) are shared with the whole workspace.
                    if owner.is_none() && !cell.shared {
                        continue;
                    }
                    assert_eq!(
                        check(role, owner, cell.shared, cell.operation),
                        cell.allowed,
                        "{cell:?} as {role:?}, owner {owner:?}"
                    );
                }
            }
            assert!(check(
                Role::Member,
                Some("u_viewer"),
                cell.shared,
                cell.operation
            ));
        }
    }

    #[test]
    fn owner_may_do_everything() {
        for op in [
            Operation::View,
            Operation::ReadCredentials,
            Operation::Delete,
        ] {
            assert!(check(Role::Member, Some("u_viewer"), false, op));
        }
    }

    #[test]
    fn admins_cannot_read_private_credentials() {
        assert!(check(Role::Admin, Some("u_other"), false, Operation::View));
        assert!(check(
            Role::Admin,
            Some("u_other"),
            false,
            Operation::Delete
        ));
        assert!(!check(
            Role::Admin,
            Some("u_other"),
            false,
            Operation::ReadCredentials
        ));
        assert!(!check(
            Role::Owner,
            Some("u_other"),
            false,
            Operation::AddToStep
        ));
    }

    #[test]
    fn members_see_only_shared_accounts() {
        assert!(!check(
            Role::Member,
            Some("u_other"),
            false,
            Operation::View
        ));
        assert!(check(
            Role::Member,
            Some("u_other"),
            false,
            Operation::TestStep
        ));
        assert!(check(
            Role::Member,
            Some("u_other"),
            true,
            Operation::ReadCredentials
        ));
        assert!(!check(
            Role::Member,
            Some("u_other"),
            true,
            Operation::Delete
        ));
        assert!(!check(Role::Member, None, true, Operation::ManageAccess));
    }
}
