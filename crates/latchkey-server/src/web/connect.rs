//! "Connect an app": `/connect` (the app picker, with search and categories) and
//! `/connect/{app}` (the key form built from the app's fields, or the OAuth popup).

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use latchkey_domain::app::{AuthType, FieldType, OAuthGrant};
use serde::Deserialize;

use super::{failure, page, problem, WebSession};
use crate::{
    catalog::CatalogApp,
    service::{accounts, oauth},
    AppState,
};

/// An app in the picker.
pub(crate) struct AppTile {
    slug: String,
    name: String,
    initial: String,
    hue: u8,
    kind: &'static str,
}

#[derive(Template)]
#[template(path = "connect_pick.html")]
struct PickPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    q: &'a str,
    q_encoded: String,
    category: &'a str,
    /// (name, URL-encoded name)
    categories: Vec<(String, String)>,
    apps: Vec<AppTile>,
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct PickQuery {
    q: Option<String>,
    category: Option<String>,
}

/// `GET /connect`
pub(crate) async fn pick(
    State(state): State<AppState>,
    session: WebSession,
    Query(query): Query<PickQuery>,
) -> Response {
    let apps = match state
        .catalog
        .list(&*state.store, session.caller.workspace_id())
        .await
    {
        Ok(apps) => apps,
        Err(e) => return failure(&e.into()),
    };
    let q = query.q.unwrap_or_default();
    let category = query.category.unwrap_or_default();
    let mut categories: BTreeMap<String, String> = BTreeMap::new();
    for app in &apps {
        for c in &app.definition.categories {
            categories.entry(c.clone()).or_insert_with(|| encode(c));
        }
    }
    let needle = q.to_lowercase();
    let tiles = apps
        .iter()
        .filter(|a| a.definition.auth_type != AuthType::None)
        .filter(|a| {
            needle.is_empty()
                || a.definition.name.to_lowercase().contains(&needle)
                || a.definition.name_slug.contains(&needle)
        })
        .filter(|a| category.is_empty() || a.definition.categories.contains(&category))
        .map(|a| {
            let (initial, hue) = super::monogram(&a.definition.name, &a.definition.name_slug);
            AppTile {
                slug: a.definition.name_slug.clone(),
                name: a.definition.name.clone(),
                initial,
                hue,
                kind: if uses_oauth_popup(a) {
                    "OAuth"
                } else {
                    "API key"
                },
            }
        })
        .collect();
    page(
        StatusCode::OK,
        &PickPage {
            section: "connect",
            admin: session.caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            q: &q,
            q_encoded: encode(&q),
            category: &category,
            categories: categories.into_iter().collect(),
            apps: tiles,
        },
    )
}

/// Apps whose connection is a sign-in at the provider (not a form of fields).
/// Whether connecting the app runs an OAuth sign-in in a popup (rather than a key form).
pub(crate) fn uses_oauth_popup(app: &CatalogApp) -> bool {
    app.definition.auth_type == AuthType::Oauth
        && app
            .definition
            .oauth
            .as_ref()
            .is_some_and(|o| o.grant != OAuthGrant::ClientCredentials)
}

/// A field of the key form.
pub(crate) struct FieldView {
    name: String,
    label: String,
    input_type: &'static str,
    optional: bool,
    default: String,
    description: String,
}

#[derive(Template)]
#[template(path = "connect_app.html")]
struct AppPage<'a> {
    section: &'static str,
    admin: bool,
    email: &'a str,
    csrf: &'a str,
    slug: String,
    app_name: String,
    oauth: bool,
    fields: Vec<FieldView>,
    /// The account being reconnected, if any.
    account_id: Option<String>,
    error: Option<String>,
}

async fn app_page(
    state: &AppState,
    session: &WebSession,
    slug: &str,
    account_id: Option<String>,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let app = match state
        .catalog
        .resolve(&*state.store, session.caller.workspace_id(), slug)
        .await
    {
        Ok(Some(app)) => app,
        Ok(None) => return problem(StatusCode::NOT_FOUND, "No such app."),
        Err(e) => return failure(&e.into()),
    };
    let fields = app
        .definition
        .custom_fields
        .iter()
        .map(|f| FieldView {
            name: f.name.clone(),
            label: f.label.clone(),
            input_type: match f.field_type {
                FieldType::Password => "password",
                FieldType::Url => "url",
                FieldType::Email => "email",
                FieldType::Integer => "number",
                _ => "text",
            },
            optional: f.optional,
            default: f.default.clone().unwrap_or_default(),
            description: f.description.clone().unwrap_or_default(),
        })
        .collect();
    page(
        status,
        &AppPage {
            section: "connect",
            admin: session.caller.is_admin(),
            email: &session.email,
            csrf: &session.csrf,
            slug: app.definition.name_slug.clone(),
            app_name: app.definition.name.clone(),
            oauth: uses_oauth_popup(&app),
            fields,
            account_id,
            error,
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    account_id: Option<String>,
}

/// `GET /connect/{app}` (`?account_id=apn_…` to reconnect that account)
pub(crate) async fn show(
    State(state): State<AppState>,
    session: WebSession,
    Path(slug): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Response {
    let account_id = query.account_id.filter(|id| !id.is_empty());
    app_page(&state, &session, &slug, account_id, StatusCode::OK, None).await
}

/// `POST /connect/{app}` — a key-based connection; the credential check's result is shown on
/// the new account's page (a failing check still saves the account, marked unhealthy).
pub(crate) async fn connect_keys(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut csrf = String::new();
    let mut nickname = None;
    let mut account_id = None;
    let mut cfmap = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "nickname" if !value.trim().is_empty() => nickname = Some(value.into_owned()),
            "account_id" if !value.is_empty() => account_id = Some(value.into_owned()),
            other => {
                if let Some(field) = other.strip_prefix("field.") {
                    if !value.is_empty() {
                        cfmap.insert(field.to_owned(), value.into_owned());
                    }
                }
            }
        }
    }
    if let Err(refused) = session.verify_form(&state, &headers, &csrf) {
        return refused.into_response();
    }
    if let Some(id) = account_id {
        return match accounts::reconnect_keys(&state, &session.caller, &id, cfmap).await {
            Ok(check) => {
                let result = if check.is_failure() { "failed" } else { "ok" };
                Redirect::to(&format!("/accounts/{id}?connected={result}")).into_response()
            }
            Err(e) => {
                let (status, text) = super::explain(&e);
                app_page(&state, &session, &slug, Some(id), status, Some(text)).await
            }
        };
    }
    let input = accounts::NewAccount {
        app: slug.clone(),
        name: nickname,
        cfmap,
        skip_check: false,
    };
    match accounts::create_if_working(&state, &session.caller, input).await {
        Ok((details, check)) => {
            let result = if check.is_failure() { "failed" } else { "ok" };
            Redirect::to(&format!(
                "/accounts/{}?connected={result}",
                details.account.id
            ))
            .into_response()
        }
        Err(e) => {
            let (status, text) = super::explain(&e);
            app_page(&state, &session, &slug, None, status, Some(text)).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct OAuthStartForm {
    #[serde(default)]
    csrf: String,
    /// The account to reconnect, if any.
    #[serde(default)]
    account_id: String,
}

/// `POST /connect/{app}/oauth` — starts the sign-in and sends this window (the popup) to the
/// confirmation page of the flow.
pub(crate) async fn connect_oauth(
    State(state): State<AppState>,
    session: WebSession,
    headers: HeaderMap,
    Path(slug): Path<String>,
    axum::Form(form): axum::Form<OAuthStartForm>,
) -> Response {
    if let Err(refused) = session.verify_form(&state, &headers, &form.csrf) {
        return refused.into_response();
    }
    let account_id = Some(form.account_id.as_str()).filter(|id| !id.is_empty());
    match oauth::connect::start(&state, &session.caller, &slug, account_id, None).await {
        Ok(link) => Redirect::to(&link).into_response(),
        Err(e) => {
            let (status, text) = super::explain(&e);
            app_page(&state, &session, &slug, None, status, Some(text)).await
        }
    }
}
