//! `/members` — who is in the workspace and their roles; admins invite people (a one-time
//! link they pass on) and change roles.

use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use latchkey_domain::role::Role;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{explain, failure, page, WebSession};
use crate::{clock, service::members, AppState};

/// A member, as listed.
pub(crate) struct MemberRow {
    id: String,
    email: String,
    role: &'static str,
    joined: String,
    /// Whether the viewer may change this member's role.
    editable: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    rows: Vec<MemberRow>,
    message: Option<String>,
    error: Option<String>,
    /// A fresh invitation link, shown once.
    invite_link: Option<String>,
}

async fn render(
    state: &AppState,
    session: &WebSession,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
    invite_link: Option<String>,
) -> Response {
    let members = match members::list(state, &session.caller).await {
        Ok(m) => m,
        Err(e) => return failure(&e),
    };
    let admin = session.caller.is_admin();
    let rows = members
        .into_iter()
        .map(|m| MemberRow {
            editable: admin
                && m.role != Role::Owner
                && Some(m.user_id.as_str()) != session.caller.user_id(),
            id: m.user_id,
            email: m.email,
            role: m.role.as_str(),
            joined: clock::iso(m.created_at),
        })
        .collect();
    page(
        status,
        &MembersPage {
            section: "members",
            admin,
            email: &session.email,
            csrf: &session.csrf,
            rows,
            message,
            error,
            invite_link,
        },
    )
}

/// `GET /members`
pub(crate) async fn list(State(state): State<AppState>, session: WebSession) -> Response {
    render(&state, &session, StatusCode::OK, None, None, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// `POST /members/invite`
pub(crate) async fn invite(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    match members::invite(&state, &session.caller, &form.email, &form.role).await {
        Ok(invitation) => {
            let link = format!(
                "{}/invite?token={}",
                state.config.public_base_url(),
                invitation.token.expose_secret()
            );
            let message = format!(
                "Invited {}. Send them this link (it works once, for 7 days): they choose a password and sign in.",
                form.email.trim()
            );
            render(
                &state,
                &session,
                StatusCode::OK,
                Some(message),
                None,
                Some(link),
            )
            .await
        }
        Err(e) => {
            let (status, text) = explain(&e);
            render(&state, &session, status, None, Some(text), None).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

/// `POST /members/{user_id}/role`
pub(crate) async fn set_role(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    match members::set_role(&state, &session.caller, &user_id, &form.role).await {
        Ok(()) => {
            let message = Some("Role saved.".to_owned());
            render(&state, &session, StatusCode::OK, message, None, None).await
        }
        Err(e) => {
            let (status, text) = explain(&e);
            render(&state, &session, status, None, Some(text), None).await
        }
    }
}
