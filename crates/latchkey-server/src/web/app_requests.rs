//! App requests: any member asks for an app the catalog lacks (`/connect/request`); admins
//! read the requests at `/app-requests`.

use askama::Template;
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};
use serde::Deserialize;

use super::{explain, failure, page, WebSession};
use crate::{
    clock,
    service::{accounts, apps},
    AppState,
};

/// A request, as listed.
pub(crate) struct RequestRow {
    name: String,
    url: Option<String>,
    note: String,
    by: String,
    at: String,
}

#[derive(Template)]
#[template(path = "app_requests.html")]
struct RequestsPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    rows: Vec<RequestRow>,
}

/// `GET /app-requests` (admins)
pub(crate) async fn list(State(state): State<AppState>, session: WebSession) -> Response {
    let caller = &session.caller;
    let requests = match apps::list_app_requests(&state, caller).await {
        Ok(r) => r,
        Err(e) => return failure(&e),
    };
    let members = match accounts::members(&state, caller.workspace_id()).await {
        Ok(m) => m,
        Err(e) => return failure(&e),
    };
    let rows = requests
        .into_iter()
        .map(|r| RequestRow {
            by: members
                .iter()
                .find(|m| m.user_id == r.requested_by)
                .map_or(r.requested_by.clone(), |m| m.email.clone()),
            name: r.name,
            // Only web links become links.
            url: r
                .url
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            note: r.note.unwrap_or_default(),
            at: clock::iso(r.created_at),
        })
        .collect();
    page(
        StatusCode::OK,
        &RequestsPage {
            section: "app-requests",
            admin: true,
            email: &session.email,
            csrf: &session.csrf,
            rows,
        },
    )
}

#[derive(Template)]
#[template(path = "app_request_form.html")]
struct RequestFormPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    name: &'a str,
    url: &'a str,
    note: &'a str,
    message: Option<&'static str>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    note: String,
}

fn form_page(
    session: &WebSession,
    status: StatusCode,
    form: &RequestForm,
    message: Option<&'static str>,
    error: Option<String>,
) -> Response {
    page(
        status,
        &RequestFormPage {
            section: "connect",
            admin: session.caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            name: &form.name,
            url: &form.url,
            note: &form.note,
            message,
            error,
        },
    )
}

/// `GET /connect/request`
pub(crate) async fn form(session: WebSession) -> Response {
    form_page(
        &session,
        StatusCode::OK,
        &RequestForm::default(),
        None,
        None,
    )
}

/// `POST /connect/request`
pub(crate) async fn submit(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Form(form): Form<RequestForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    let some = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
    let input = apps::NewAppRequest {
        name: form.name.clone(),
        url: some(&form.url),
        note: some(&form.note),
    };
    match apps::request_app(&state, &session.caller, input).await {
        Ok(_) => form_page(
            &session,
            StatusCode::OK,
            &RequestForm::default(),
            Some("Thanks: your request reached the workspace's admins."),
            None,
        ),
        Err(e) => {
            let (status, text) = explain(&e);
            form_page(&session, status, &form, None, Some(text))
        }
    }
}
