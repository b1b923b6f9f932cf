//! The JSON shapes of the Pipedream-compatible API (API.md §4): App and Account objects and
//! `page_info`.

use latchkey_domain::app::AppDefinition;
use latchkey_store::{Member, Page};
use serde_json::{json, Value};

use crate::{
    catalog::{AppSource, CatalogApp},
    clock,
    outbound::CheckResult,
    service::accounts::AccountDetails,
};

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

/// The App object.
pub(crate) fn app(app: &CatalogApp) -> Value {
    let def = &app.definition;
    let request = def.request.as_ref();
    let scopes = def
        .oauth
        .as_ref()
        .map(|o| o.default_scopes.clone())
        .unwrap_or_default();
    json!({
        "id": app.id,
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
        "custom": app.source != AppSource::Builtin,
        "connect": {
            "proxy_enabled": request.is_some(),
            "allowed_domains": request.map(|r| r.allowed_domains.clone()).unwrap_or_default(),
            "base_proxy_target_url": request.map(|r| r.base_url.clone()).unwrap_or_default(),
        },
    })
}

/// The Account object; `credentials` and `expires_at` only when credentials were read.
pub(crate) fn account(details: &AccountDetails, members: &[Member]) -> Value {
    let a = &details.account;
    let owner = a.owner_id.as_ref().map(|id| {
        let email = members
            .iter()
            .find(|m| &m.user_id == id)
            .map(|m| m.email.clone());
        json!({ "id": id, "email": email })
    });
    let app_value = details.app.as_ref().map_or_else(
        || json!({ "id": null, "name_slug": a.app_slug, "name": a.app_slug }),
        app,
    );
    let mut out = json!({
        "id": a.id,
        "name": a.name,
        "external_id": null,
        "healthy": a.healthy,
        "dead": a.dead,
        "error": a.error,
        "app": app_value,
        "owner": owner,
        "sharing": a.sharing.as_str(),
        "authorized_scopes": a.authorized_scopes,
        "created_at": clock::iso(a.created_at),
        "updated_at": clock::iso(a.updated_at),
        "last_refreshed_at": null,
        "next_refresh_at": null,
    });
    if let Some(credentials) = &details.credentials {
        out["credentials"] = credentials.expose_json();
        out["expires_at"] = a.expires_at.map_or(Value::Null, |t| json!(clock::iso(t)));
    }
    out
}

/// `page_info` for a page.
pub(crate) fn page_info<T>(page: &Page<T>) -> Value {
    json!({
        "total_count": page.total_count,
        "count": page.items.len(),
        "start_cursor": page.start_cursor,
        "end_cursor": page.end_cursor,
    })
}

/// The credential check result.
pub(crate) fn check(check: &CheckResult) -> Value {
    serde_json::to_value(check).unwrap_or(Value::Null)
}
