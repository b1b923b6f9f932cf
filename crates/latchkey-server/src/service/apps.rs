//! Custom apps (admin API) and app requests.

use std::sync::Arc;

use latchkey_domain::{app::AppDefinition, ids, ValidationError};
use latchkey_store::{AppRequest, CustomApp};

use super::{Caller, ServiceError};
use crate::{
    catalog::{AppSource, CatalogApp},
    clock, App,
};

/// Adds a custom app to the caller's workspace from a JSON definition (same structure as the
/// TOML files). Admins only.
///
/// # Errors
/// 400 for an invalid definition (field named), 409 when the slug is taken.
pub async fn create_custom_app(
    ctx: &App,
    caller: &Caller,
    body: serde_json::Value,
) -> Result<CatalogApp, ServiceError> {
    caller.require_admin()?;
    let definition: AppDefinition =
        serde_json::from_value(body).map_err(|e| ValidationError::new("app", e.to_string()))?;
    definition.validate(false)?;
    if ctx.catalog.get_global(&definition.name_slug).is_some() {
        return Err(ServiceError::Conflict(format!(
            "an app with the slug {} already exists",
            definition.name_slug
        )));
    }
    let id = definition.id(Some(caller.workspace_id()));
    let row = CustomApp {
        id: id.clone(),
        workspace_id: caller.workspace_id().to_owned(),
        name_slug: definition.name_slug.clone(),
        definition_json: serde_json::to_string(&definition)
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        created_at: clock::now_ms(),
    };
    ctx.store
        .insert_custom_app(&row)
        .await
        .map_err(|e| match e {
            latchkey_store::StoreError::Conflict(_) => ServiceError::Conflict(format!(
                "an app with the slug {} already exists",
                definition.name_slug
            )),
            other => other.into(),
        })?;
    ctx.catalog.forget_workspace(caller.workspace_id());
    tracing::info!(app.id = %id, app.slug = %definition.name_slug, "custom app added");
    Ok(CatalogApp::new(
        id,
        Arc::new(definition),
        AppSource::Workspace,
    ))
}

/// Input of `POST /v1/app_requests`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAppRequest {
    /// The app's name.
    pub name: String,
    /// Its website or API docs.
    #[serde(default)]
    pub url: Option<String>,
    /// Why it is needed.
    #[serde(default)]
    pub note: Option<String>,
}

/// Files a request for a missing app (any member).
///
/// # Errors
/// 400 for bad input, 403 for API clients.
pub async fn request_app(
    ctx: &App,
    caller: &Caller,
    input: NewAppRequest,
) -> Result<AppRequest, ServiceError> {
    let user = caller.require_member()?.to_owned();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ValidationError::new("name", "must be 1 to 100 characters").into());
    }
    if let Some(url) = &input.url {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(ValidationError::new("url", "must be an http(s) URL").into());
        }
    }
    if input
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 2000)
    {
        return Err(ValidationError::new("note", "must be at most 2000 characters").into());
    }
    let request = AppRequest {
        id: ids::generate(ids::APP_REQUEST),
        workspace_id: caller.workspace_id().to_owned(),
        requested_by: user,
        name: name.to_owned(),
        url: input.url,
        note: input.note,
        created_at: clock::now_ms(),
    };
    ctx.store.insert_app_request(&request).await?;
    Ok(request)
}

/// The workspace's app requests (admins).
///
/// # Errors
/// 403 for non-admins.
pub async fn list_app_requests(
    ctx: &App,
    caller: &Caller,
) -> Result<Vec<AppRequest>, ServiceError> {
    caller.require_admin()?;
    Ok(ctx.store.list_app_requests(caller.workspace_id()).await?)
}
