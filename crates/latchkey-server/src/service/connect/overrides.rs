//! App overrides (API.md §3 #19–#20, §4.9): a project's preset for connecting an app — which
//! OAuth client to use and values for some of its fields. Password-type fields cannot be preset,
//! so an override never holds a secret.

use std::collections::BTreeMap;

use latchkey_domain::{app::FieldType, ids, ValidationError};
use latchkey_store::AppOverride;

use super::{tokens, ConnectCaller};
use crate::{catalog::CatalogApp, clock, service::ServiceError, App};

/// Create or update input (absent fields stay as they are on update).
#[derive(Debug, Default)]
pub struct OverrideInput {
    /// App slug or id (create only).
    pub app: Option<String>,
    /// Unique name in the project.
    pub name: Option<String>,
    /// OAuth client (`oa_…`); `Some(None)` clears it.
    pub oauth_app_id: Option<Option<String>>,
    /// Preset field values.
    pub cfmap: Option<BTreeMap<String, String>>,
}

fn require(caller: &ConnectCaller, write: bool) -> Result<(), ServiceError> {
    caller.require_server()?;
    caller.require_scope(if write {
        "connect:app_overrides:write"
    } else {
        "connect:app_overrides:read"
    })
}

fn check_name(name: &str) -> Result<String, ValidationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationError::new("name", "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// Only the app's non-password fields may be preset.
fn check_cfmap(
    app: &CatalogApp,
    cfmap: BTreeMap<String, String>,
) -> Result<String, ValidationError> {
    for name in cfmap.keys() {
        let field = app
            .definition
            .custom_fields
            .iter()
            .find(|f| f.name == *name)
            .ok_or_else(|| {
                ValidationError::new(
                    "cfmap",
                    format!("{name} is not a field of {}", app.definition.name),
                )
            })?;
        if field.field_type == FieldType::Password {
            return Err(ValidationError::new(
                "cfmap",
                format!("{name} is sensitive and cannot be preset"),
            ));
        }
    }
    serde_json::to_string(&cfmap).map_err(|_| ValidationError::new("cfmap", "is not serialisable"))
}

async fn check_client(
    ctx: &App,
    caller: &ConnectCaller,
    app: &CatalogApp,
    id: Option<String>,
) -> Result<Option<String>, ServiceError> {
    let Some(id) = id.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let client = ctx
        .store
        .get_oauth_client(caller.workspace_id(), &id)
        .await?;
    if client.is_none_or(|c| c.app_slug != app.definition.name_slug) {
        return Err(ValidationError::new(
            "oauth_app_id",
            "is not an OAuth client of this workspace for this app",
        )
        .into());
    }
    Ok(Some(id))
}

/// Creates an override.
///
/// # Errors
/// 400, 403, 409 (name taken).
pub async fn create(
    ctx: &App,
    caller: &ConnectCaller,
    input: OverrideInput,
) -> Result<AppOverride, ServiceError> {
    require(caller, true)?;
    let app_key = input
        .app
        .ok_or_else(|| ValidationError::new("app", "is required"))?;
    let app = tokens::resolve_app(ctx, &caller.project, &app_key).await?;
    let name = check_name(input.name.as_deref().unwrap_or(""))?;
    let oauth_app_id = check_client(ctx, caller, &app, input.oauth_app_id.flatten()).await?;
    let now = clock::now_ms();
    let o = AppOverride {
        id: ids::generate("ao_"),
        project_id: caller.project.id.clone(),
        name,
        app_slug: app.definition.name_slug.clone(),
        oauth_app_id,
        cfmap_json: check_cfmap(&app, input.cfmap.unwrap_or_default())?,
        created_at: now,
        updated_at: now,
    };
    ctx.store.insert_app_override(&o).await?;
    Ok(o)
}

/// One override of the project (no permission check: for flows already authorized by a token).
///
/// # Errors
/// 404.
pub async fn find(ctx: &App, project_id: &str, id: &str) -> Result<AppOverride, ServiceError> {
    ctx.store
        .get_app_override(project_id, id)
        .await?
        .ok_or(ServiceError::NotFound("app override"))
}

/// One override.
///
/// # Errors
/// 404, 403.
pub async fn get(ctx: &App, caller: &ConnectCaller, id: &str) -> Result<AppOverride, ServiceError> {
    require(caller, false)?;
    find(ctx, &caller.project.id, id).await
}

/// The project's overrides (of one app).
///
/// # Errors
/// 400 unknown app, 403.
pub async fn list(
    ctx: &App,
    caller: &ConnectCaller,
    app: Option<&str>,
) -> Result<Vec<AppOverride>, ServiceError> {
    require(caller, false)?;
    let slug = match app.filter(|a| !a.is_empty()) {
        Some(key) => Some(
            tokens::resolve_app(ctx, &caller.project, key)
                .await?
                .definition
                .name_slug
                .clone(),
        ),
        None => None,
    };
    Ok(ctx
        .store
        .list_app_overrides(&caller.project.id, slug.as_deref())
        .await?)
}

/// Changes an override.
///
/// # Errors
/// 400, 403, 404, 409.
pub async fn update(
    ctx: &App,
    caller: &ConnectCaller,
    id: &str,
    input: OverrideInput,
) -> Result<AppOverride, ServiceError> {
    require(caller, true)?;
    let mut o = find(ctx, &caller.project.id, id).await?;
    let app = tokens::resolve_app(ctx, &caller.project, &o.app_slug).await?;
    if let Some(name) = input.name {
        o.name = check_name(&name)?;
    }
    if let Some(client) = input.oauth_app_id {
        o.oauth_app_id = check_client(ctx, caller, &app, client).await?;
    }
    if let Some(cfmap) = input.cfmap {
        o.cfmap_json = check_cfmap(&app, cfmap)?;
    }
    o.updated_at = clock::now_ms();
    ctx.store.update_app_override(&o).await?;
    Ok(o)
}

/// Deletes an override.
///
/// # Errors
/// 403, 404.
pub async fn delete(ctx: &App, caller: &ConnectCaller, id: &str) -> Result<(), ServiceError> {
    require(caller, true)?;
    ctx.store
        .delete_app_override(&caller.project.id, id)
        .await
        .map_err(|e| match e {
            latchkey_store::StoreError::NotFound => ServiceError::NotFound("app override"),
            other => other.into(),
        })
}

/// The preset values of an override.
#[must_use]
pub fn preset(o: &AppOverride) -> BTreeMap<String, String> {
    serde_json::from_str(&o.cfmap_json).unwrap_or_default()
}
