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
