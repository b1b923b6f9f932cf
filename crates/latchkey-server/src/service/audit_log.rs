//! Reading the audit log (admins): a workspace's events, newest first, with filters.

use latchkey_domain::ValidationError;
use latchkey_store::{AuditEvent, AuditQuery};

use super::{Caller, ServiceError};
use crate::App;

/// Filters of a listing.
#[derive(Debug, Default)]
pub struct AuditFilters {
    /// Only about this account.
    pub account_id: Option<String>,
    /// Only by this actor (user or API client id).
    pub actor_id: Option<String>,
    /// Only this action (e.g. `credentials.read`).
    pub action: Option<String>,
    /// The cursor: the `seq` of the last event of the previous page.
    pub before: Option<String>,
    /// Page size (1..=100).
    pub limit: u32,
}

/// A page of events and the cursor of the next one (`None` on the last page).
///
/// # Errors
/// 403 for non-admins and API clients, 400 for a bad cursor.
pub async fn list(
    ctx: &App,
    caller: &Caller,
    filters: AuditFilters,
) -> Result<(Vec<AuditEvent>, Option<String>), ServiceError> {
    caller.require_admin()?;
    let before_seq = match filters.before.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => Some(
            cursor
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ValidationError::new("before", "is not a cursor from this API"))?,
        ),
    };
    let limit = filters.limit.clamp(1, 100);
    let mut events = ctx
        .store
        .list_audit(&AuditQuery {
            workspace_id: caller.workspace_id().to_owned(),
            account_id: filters.account_id,
            actor_id: filters.actor_id,
            action: filters.action,
            before_seq,
            limit: limit + 1,
        })
        .await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next = more
        .then(|| events.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok((events, next))
}
