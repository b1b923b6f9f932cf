//! `/audit` — the audit log with filters (admins).

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::{failure, page, WebSession};
use crate::{clock, service::audit_log, AppState};

/// One event, as shown.
pub(crate) struct EventRow {
    at: String,
    actor: String,
    action: String,
    account: String,
    outcome: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    action: &'a str,
    account_id: &'a str,
    actor_id: &'a str,
    rows: Vec<EventRow>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    action: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    actor_id: String,
    before: Option<String>,
}

fn some(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// `GET /audit`
pub(crate) async fn list(
    State(state): State<AppState>,
    session: WebSession,
    Query(f): Query<Filters>,
) -> Response {
    let filters = audit_log::AuditFilters {
        account_id: some(&f.account_id),
        actor_id: some(&f.actor_id),
        action: some(&f.action),
        before: f.before.clone(),
        limit: 100,
    };
    let (events, next) = match audit_log::list(&state, &session.caller, filters).await {
        Ok(found) => found,
        Err(e) => return failure(&e),
    };
    let rows = events
        .into_iter()
        .map(|e| EventRow {
            at: clock::iso(e.event.at),
            actor: format!("{} {}", e.event.actor_type, e.event.actor_id),
            action: e.event.action,
            account: e.event.account_id.unwrap_or_default(),
            outcome: e.event.outcome,
            detail: e.event.detail.unwrap_or_default(),
        })
        .collect();
    let next = next.map(|cursor| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &f.action)
            .append_pair("account_id", &f.account_id)
            .append_pair("actor_id", &f.actor_id)
            .append_pair("before", &cursor)
            .finish();
        format!("/audit?{query}")
    });
    page(
        StatusCode::OK,
        &AuditPage {
            section: "audit",
            admin: session.caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            action: &f.action,
            account_id: &f.account_id,
            actor_id: &f.actor_id,
            rows,
            next,
        },
    )
}
