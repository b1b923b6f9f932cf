//! `/accounts/{id}` — one account and what the member may do with it: rename, manage access,
//! delete. Only the actions the viewer may take are offered; the services enforce them anyway.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use latchkey_domain::access::Operation;
use latchkey_store::Sharing;

use super::{explain, failure, page, problem, WebSession};
use crate::{
    clock,
    service::{accounts, sharing},
    AppState,
};

/// A member in the access form.
pub(crate) struct MemberChoice {
    id: String,
    email: String,
    chosen: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    id: String,
    name: String,
    app: String,
    owner: String,
    health: &'static str,
    account_error: Option<String>,
    scopes: String,
    sharing: String,
    mode: &'static str,
    created: String,
    members: Vec<MemberChoice>,
    app_slug: String,
    /// Reconnecting runs the OAuth popup (else the key form).
    oauth: bool,
    may_reconnect: bool,
    may_rename: bool,
    may_manage: bool,
    may_delete: bool,
    message: Option<&'a str>,
    error: Option<String>,
}

async fn render(
    state: &AppState,
    session: &WebSession,
    id: &str,
    status: StatusCode,
    message: Option<&str>,
    error: Option<String>,
) -> Response {
    let details = match accounts::get(state, &session.caller, id, false).await {
        Ok(d) => d,
        Err(e) => {
            return failure(&e);
        }
    };
    let members = match accounts::members(state, session.caller.workspace_id()).await {
        Ok(m) => m,
        Err(e) => return failure(&e),
    };
    let a = &details.account;
    let email_of = |user: &str| {
        members
            .iter()
            .find(|m| m.user_id == user)
            .map(|m| m.email.clone())
            .unwrap_or_else(|| user.to_owned())
    };
    let sharing = match a.sharing {
        Sharing::Private => "only the owner".to_owned(),
        Sharing::Workspace => "everyone in the workspace".to_owned(),
        Sharing::Members => a
            .shared_with
            .iter()
            .map(|u| email_of(u))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let view = AccountPage {
        section: "accounts",
        admin: session.caller.is_admin(),
        email: &session.email,
        csrf: &session.csrf,
        id: a.id.clone(),
        name: a.name.clone(),
        app: details
            .app
            .as_ref()
            .map_or_else(|| a.app_slug.clone(), |app| app.definition.name.clone()),
        owner: a.owner_id.as_deref().map(email_of).unwrap_or_default(),
        health: super::health(a),
        account_error: a.error.clone(),
        scopes: a.authorized_scopes.join(" "),
        sharing,
        mode: a.sharing.as_str(),
        created: clock::iso(a.created_at),
        members: members
            .iter()
            .filter(|m| Some(m.user_id.as_str()) != a.owner_id.as_deref())
            .map(|m| MemberChoice {
                id: m.user_id.clone(),
                email: m.email.clone(),
                chosen: a.shared_with.contains(&m.user_id),
            })
            .collect(),
        app_slug: a.app_slug.clone(),
        oauth: details
            .app
            .as_ref()
            .is_some_and(super::connect::uses_oauth_popup),
        // Connect accounts are reconnected by their end user, through Connect.
        may_reconnect: details.app.is_some()
            && a.connect.is_none()
            && session.caller.may(a, Operation::Reconnect),
        may_rename: session.caller.may(a, Operation::Rename),
        may_manage: session.caller.may(a, Operation::ManageAccess),
        may_delete: session.caller.may(a, Operation::Delete),
        message,
        error,
    };
    page(status, &view)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ShowQuery {
    connected: Option<String>,
}

/// `GET /accounts/{id}` (`?connected=ok|failed` after a connection: its check's outcome)
pub(crate) async fn show(
    State(state): State<AppState>,
    session: WebSession,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ShowQuery>,
) -> Response {
    let message = match query.connected.as_deref() {
        Some("failed") => {
            Some("Connected, but the credential check failed: the account is marked unhealthy.")
        }
        Some(_) => Some("Connected."),
        None => None,
    };
    render(&state, &session, &id, StatusCode::OK, message, None).await
}

/// The fields of the action forms (all optional; each action reads its own). Parsed by hand
/// because `member_ids` repeats.
#[derive(Debug, Default)]
pub(crate) struct ActionForm {
    csrf: String,
    name: Option<String>,
    mode: Option<String>,
    member_ids: Vec<String>,
    confirm: Option<String>,
}

impl ActionForm {
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "csrf" => form.csrf = value,
                "name" => form.name = Some(value),
                "mode" => form.mode = Some(value),
                "member_ids" => form.member_ids.push(value),
                "confirm" => form.confirm = Some(value),
                _ => {}
            }
        }
        form
    }
}

/// `POST /accounts/{id}/{action}` — `rename`, `access` or `delete`.
pub(crate) async fn act(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let form = ActionForm::parse(&body);
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    let outcome = match action.as_str() {
        "rename" => accounts::rename(
            &state,
            &session.caller,
            &id,
            form.name.as_deref().unwrap_or(""),
        )
        .await
        .map(|_| "Renamed."),
        "access" => match sharing::parse_mode(form.mode.as_deref().unwrap_or("")) {
            Ok(mode) => sharing::set(&state, &session.caller, &id, mode, form.member_ids)
                .await
                .map(|_| "Access saved."),
            Err(e) => Err(e.into()),
        },
        "delete" if form.confirm.as_deref() == Some("yes") => {
            return match accounts::delete(&state, &session.caller, &id).await {
                Ok(_) => Redirect::to("/accounts").into_response(),
                Err(e) => {
                    let (status, text) = explain(&e);
                    render(&state, &session, &id, status, None, Some(text)).await
                }
            };
        }
        "delete" => {
            Err(latchkey_domain::ValidationError::new("confirm", "tick the box to confirm").into())
        }
        _ => return problem(StatusCode::NOT_FOUND, "Unknown action."),
    };
    match outcome {
        Ok(message) => render(&state, &session, &id, StatusCode::OK, Some(message), None).await,
        Err(e) => {
            let (status, text) = explain(&e);
            render(&state, &session, &id, status, None, Some(text)).await
        }
    }
}
