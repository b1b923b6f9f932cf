//! The JSON shapes of the Pipedream-compatible API (API.md §4): App and Account objects and
//! `page_info`. Views borrow from the models and serialise directly (no intermediate
//! `serde_json::Value` tree): this is the hot path of every credential read.

use std::sync::Arc;

use latchkey_domain::app::AppDefinition;
use latchkey_store::{Member, Page};
use serde::Serialize;
use serde_json::{json, value::RawValue, Value};

use crate::{
    catalog::AppSource, clock, service::accounts::AccountDetails, vault::ExposedCredentials,
};

/// `{"data": …}`, the envelope of single objects.
#[derive(Serialize)]
pub(crate) struct Data<T> {
    pub(crate) data: T,
}

/// `{"data": […], "page_info": …}`, the envelope of lists.
#[derive(Serialize)]
pub(crate) struct Listing<T> {
    pub(crate) data: Vec<T>,
    pub(crate) page_info: PageInfo,
}

/// Pagination of a list (`end_cursor` is `null` on the last page).
#[derive(Serialize)]
pub(crate) struct PageInfo {
    pub(crate) total_count: i64,
    pub(crate) count: usize,
    pub(crate) start_cursor: Option<String>,
    pub(crate) end_cursor: Option<String>,
}

impl PageInfo {
    pub(crate) fn of<T>(page: &Page<T>) -> Self {
        Self {
            total_count: page.total_count,
            count: page.items.len(),
            start_cursor: page.start_cursor.clone(),
            end_cursor: page.end_cursor.clone(),
        }
    }
}

fn custom_fields_json(def: &AppDefinition) -> String {
    let fields: Vec<Value> = def
        .custom_fields
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "label": f.label,
                "description": f.description,
                "default": f.default,
                "optional": f.optional,
                "type": f.field_type.as_str(),
            })
        })
        .collect();
    Value::Array(fields).to_string()
}

/// Renders the App object once per app (see `CatalogApp::view`).
pub(crate) fn render_app(id: &str, def: &AppDefinition, source: AppSource) -> Arc<RawValue> {
    let request = def.request.as_ref();
    let scopes = def
        .oauth
        .as_ref()
        .map(|o| o.default_scopes.clone())
        .unwrap_or_default();
    let value = json!({
        "id": id,
        "name_slug": def.name_slug,
        "name": def.name,
        "auth_type": def.auth_type.as_str(),
        "description": def.description,
        "img_src": def.img_src.clone().unwrap_or_default(),
        "custom_fields_json": custom_fields_json(def),
        "categories": def.categories,
        "featured_weight": def.featured_weight.unwrap_or(0.0),
        "scope_profiles": [],
        "default_scopes": scopes,
        "docs_url": def.docs_url,
        "custom": source != AppSource::Builtin,
        "connect": {
            "proxy_enabled": request.is_some(),
            "allowed_domains": request.map(|r| r.allowed_domains.clone()).unwrap_or_default(),
            "base_proxy_target_url": request.map(|r| r.base_url.clone()).unwrap_or_default(),
        },
    });
    Arc::from(RawValue::from_string(value.to_string()).expect("serde_json output is valid JSON"))
}

#[derive(Serialize)]
struct OwnerView<'a> {
    id: &'a str,
    email: Option<&'a str>,
}

/// The Account object; `credentials` and `expires_at` only when credentials were read.
#[derive(Serialize)]
pub(crate) struct AccountView<'a> {
    id: &'a str,
    name: &'a str,
    /// Connect accounts only (the end user's id); absent on workspace accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
    healthy: bool,
    dead: bool,
    error: Option<&'a str>,
    app: AppRef<'a>,
    /// Workspace accounts only.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Option<OwnerView<'a>>>,
    /// Workspace accounts only.
    #[serde(skip_serializing_if = "Option::is_none")]
    sharing: Option<&'static str>,
    authorized_scopes: &'a [String],
    created_at: String,
    updated_at: String,
    last_refreshed_at: Option<String>,
    next_refresh_at: Option<String>,
    /// In listings: the workflows using the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    workflows: Option<Vec<WorkflowRef<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credentials: Option<ExposedCredentials<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Option<String>>,
}

/// A workflow using an account.
#[derive(Serialize)]
pub(crate) struct WorkflowRef<'a> {
    id: &'a str,
    name: &'a str,
}

/// The account's app: the pre-rendered App object, or a stub when the app is gone.
#[derive(Serialize)]
#[serde(untagged)]
enum AppRef<'a> {
    Rendered(&'a RawValue),
    Missing {
        id: Option<&'a str>,
        name_slug: &'a str,
        name: &'a str,
    },
}

/// Builds the Account view of `details`.
pub(crate) fn account<'a>(details: &'a AccountDetails, members: &'a [Member]) -> AccountView<'a> {
    let a = &details.account;
    let owner = a.owner_id.as_deref().map(|id| OwnerView {
        id,
        email: members
            .iter()
            .find(|m| m.user_id == id)
            .map(|m| m.email.as_str()),
    });
    let app = match &details.app {
        Some(app) => AppRef::Rendered(&app.view),
        None => AppRef::Missing {
            id: None,
            name_slug: &a.app_slug,
            name: &a.app_slug,
        },
    };
    let credentials = details.credentials.as_ref().map(|c| c.exposed());
    let expires_at = credentials.as_ref().map(|_| a.expires_at.map(clock::iso));
    AccountView {
        id: &a.id,
        name: &a.name,
        external_id: a.connect.as_ref().map(|c| c.external_id.as_str()),
        healthy: a.healthy,
        dead: a.dead,
        error: a.error.as_deref(),
        app,
        owner: a.connect.is_none().then_some(owner),
        sharing: a.connect.is_none().then(|| a.sharing.as_str()),
        authorized_scopes: &a.authorized_scopes,
        created_at: clock::iso(a.created_at),
        updated_at: clock::iso(a.updated_at),
        last_refreshed_at: a.last_refreshed_at.map(clock::iso),
        next_refresh_at: a.next_refresh_at.map(clock::iso),
        workflows: details.workflows.as_ref().map(|all| {
            all.iter()
                .map(|(id, name)| WorkflowRef { id, name })
                .collect()
        }),
        credentials,
        expires_at,
    }
}
