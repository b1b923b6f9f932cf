//! `/invite?token=…` — an invited member chooses a password and is signed in. The link works
//! once; a used or expired one says so.

use askama::Template;
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use secrecy::SecretString;
use serde::Deserialize;

use super::{check_origin, login::start_session, page};
use crate::{
    service::{members, ServiceError},
    AppState,
};

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage<'a> {
    token: &'a str,
    min: usize,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InviteQuery {
    #[serde(default)]
    token: String,
}

/// `GET /invite?token=…`
pub(crate) async fn form(Query(query): Query<InviteQuery>) -> Response {
    page(
        StatusCode::OK,
        &InvitePage {
            token: &query.token,
            min: members::MIN_PASSWORD_CHARS,
            error: None,
        },
    )
}

/// The form. Not `Debug`: it holds the password.
#[derive(Deserialize)]
pub(crate) struct AcceptForm {
    #[serde(default)]
    token: String,
    password: SecretString,
}

/// `POST /invite`
pub(crate) async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<AcceptForm>,
) -> Response {
    if let Err(refused) = check_origin(&state, &headers) {
        return refused.into_response();
    }
    match members::accept_invite(&state, &form.token, &form.password).await {
        Ok((workspace_id, user_id)) => {
            tracing::info!(user.id = %user_id, "invitation accepted");
            start_session(&state, user_id, workspace_id).await
        }
        Err(e) => {
            let (status, error) = match e {
                ServiceError::Invalid(v) => (StatusCode::BAD_REQUEST, v.to_string()),
                ServiceError::NotFound(_) => (
                    StatusCode::NOT_FOUND,
                    "This invitation link was already used or has expired. Ask an admin for a new one."
                        .to_owned(),
                ),
                other => super::explain(&other),
            };
            page(
                status,
                &InvitePage {
                    token: &form.token,
                    min: members::MIN_PASSWORD_CHARS,
                    error: Some(error),
                },
            )
        }
    }
}
