//! `GET /accounts` — the accounts the member may see (the landing page after sign-in).

use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use latchkey_domain::access::Operation;
use serde::Deserialize;

use super::{failure, page, WebSession};
use crate::{clock, service::accounts, AppState};

/// One row of the table.
pub(crate) struct Row {
    id: String,
    app: String,
    initial: String,
    hue: u8,
    name: String,
    owner: String,
    scopes: String,
    health: &'static str,
    error: Option<String>,
    workflows: String,
    created: String,
    updated: String,
    may_manage: bool,
    may_reconnect: bool,
    may_rename: bool,
    may_delete: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    q: &'a str,
    total: i64,
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    after: Option<String>,
}

fn day(ms: i64) -> String {
    clock::iso(ms).chars().take(10).collect()
}

/// `GET /accounts`
pub(crate) async fn list(
    State(state): State<AppState>,
    session: WebSession,
    Query(query): Query<ListQuery>,
) -> Response {
    let q = query.q.unwrap_or_default();
    let params = accounts::ListParams {
        app: None,
        search: Some(q.clone()).filter(|s| !s.is_empty()),
        after: query.after.filter(|s| latchkey_store::is_valid_cursor(s)),
        limit: 50,
        with_credentials: false,
    };
    let listed = accounts::list(&state, &session.caller, params).await;
    let members = accounts::members(&state, session.caller.workspace_id()).await;
    let (page_of, members) = match (listed, members) {
        (Ok(p), Ok(m)) => (p, m),
        (Err(e), _) | (_, Err(e)) => return failure(&e),
    };
    let rows = page_of
        .items
        .iter()
        .map(|d| {
            let a = &d.account;
            let app = d
                .app
                .as_ref()
                .map_or_else(|| a.app_slug.clone(), |app| app.definition.name.clone());
            let (initial, hue) = super::monogram(&app, &a.app_slug);
            Row {
                id: a.id.clone(),
                app,
                initial,
                hue,
                name: a.name.clone(),
                owner: a
                    .owner_id
                    .as_deref()
                    .and_then(|o| members.iter().find(|m| m.user_id == o))
                    .map(|m| m.email.clone())
                    .unwrap_or_default(),
                scopes: a.authorized_scopes.join(" "),
                health: super::health(a),
                error: a.error.clone(),
                workflows: d
                    .workflows
                    .as_ref()
                    .map(|w| {
                        w.iter()
                            .map(|(_, name)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                created: day(a.created_at),
                updated: day(a.updated_at),
                may_manage: session.caller.may(a, Operation::ManageAccess),
                may_reconnect: d.app.is_some()
                    && a.connect.is_none()
                    && session.caller.may(a, Operation::Reconnect),
                may_rename: session.caller.may(a, Operation::Rename),
                may_delete: session.caller.may(a, Operation::Delete),
            }
        })
        .collect();
    let next = page_of.end_cursor.map(|cursor| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .append_pair("after", &cursor)
            .finish();
        format!("/accounts?{query}")
    });
    page(
        StatusCode::OK,
        &AccountsPage {
            section: "accounts",
            admin: session.caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            q: &q,
            total: page_of.total_count,
            rows,
            next,
        },
    )
}
