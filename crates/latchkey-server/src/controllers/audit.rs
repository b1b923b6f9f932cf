//! `GET /v1/audit` — the workspace's audit log (admins), newest first.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::limit;
use crate::{
    clock,
    error::{ApiResult, AppQuery},
    service::{
        audit_log::{self, AuditFilters},
        Caller,
    },
    AppState,
};

#[derive(Debug, Deserialize)]
pub(crate) struct AuditParams {
    account_id: Option<String>,
    actor_id: Option<String>,
    action: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/audit?account_id=&actor_id=&action=&before=&limit=`
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<AuditParams>,
) -> ApiResult<Json<Value>> {
    let limit = limit(params.limit.as_deref())?;
    let (events, next) = audit_log::list(
        &state,
        &caller,
        AuditFilters {
            account_id: params.account_id,
            actor_id: params.actor_id,
            action: params.action,
            before: params.before,
            limit,
        },
    )
    .await?;
    let data: Vec<Value> = events
        .iter()
        .map(|e| {
            let event = &e.event;
            json!({
                "id": event.id,
                "seq": e.seq,
                "at": clock::iso(event.at),
                "actor": {"type": event.actor_type, "id": event.actor_id},
                "action": event.action,
                "account_id": event.account_id,
                "outcome": event.outcome,
                "detail": event.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
            })
        })
        .collect();
    Ok(Json(
        json!({"data": data, "page_info": {"count": data.len(), "end_cursor": next}}),
    ))
}
