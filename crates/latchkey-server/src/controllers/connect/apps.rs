//! `/v1/connect/apps` and `/v1/connect/app_categories` (API.md §3 #13–#16): the catalog as the
//! Connect SDK browses it.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, RawQuery, State},
    response::{IntoResponse, Response},
    Json,
};
use latchkey_domain::ids;
use serde::Serialize;

use super::CatalogViewer;
use crate::{
    catalog::CatalogApp,
    controllers::{
        apps::{catalog_page, offset_cursor},
        limit,
    },
    error::{ApiError, ApiResult},
    views, AppState,
};

/// An app category (`appcat_…`, derived from its name so every instance agrees).
#[derive(Serialize)]
struct Category {
    id: String,
    name: String,
    description: String,
}

fn category(name: &str) -> Category {
    Category {
        id: ids::derived("appcat_", &name.to_lowercase()),
        name: name.to_owned(),
        description: format!("Apps in {name}"),
    }
}

fn categories(apps: &[CatalogApp]) -> Vec<Category> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for app in apps {
        for c in &app.definition.categories {
            names.entry(c.to_lowercase()).or_insert_with(|| c.clone());
        }
    }
    names.values().map(|n| category(n)).collect()
}

/// The query of `GET /v1/connect/apps`; `category_ids` repeats, so it is parsed by hand.
#[derive(Default)]
struct AppsQuery {
    q: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    sort_key: Option<String>,
    descending: bool,
    category_ids: Vec<String>,
}

fn parse_query(raw: Option<&str>) -> ApiResult<AppsQuery> {
    let mut query = AppsQuery::default();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "q" => query.q = Some(value),
            "limit" => query.limit = Some(value),
            "after" => query.after = Some(value).filter(|v| !v.is_empty()),
            "sort_key" => match value.as_str() {
                "name" | "name_slug" | "featured_weight" => query.sort_key = Some(value),
                _ => {
                    return Err(ApiError::invalid(
                        "sort_key",
                        "must be name, name_slug or featured_weight",
                    ))
                }
            },
            "sort_direction" => match value.as_str() {
                "asc" => query.descending = false,
                "desc" => query.descending = true,
                _ => return Err(ApiError::invalid("sort_direction", "must be asc or desc")),
            },
            "category_ids" | "category_ids[]" => {
                query.category_ids.extend(
                    value
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            // Latchkey has no components: these filters are accepted and do not narrow.
            _ => {}
        }
    }
    Ok(query)
}

/// `GET /v1/connect/apps` → `{data: [App], page_info}`.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: CatalogViewer,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let query = parse_query(raw.as_deref())?;
    let limit = limit(query.limit.as_deref())? as usize;
    let offset = offset_cursor(query.after.as_deref())?;
    let needle = query.q.unwrap_or_default().to_lowercase();
    let mut apps: Vec<CatalogApp> = state
        .catalog
        .list(&*state.store, &viewer.workspace_id)
        .await?
        .into_iter()
        .filter(|a| {
            needle.is_empty()
                || a.definition.name.to_lowercase().contains(&needle)
                || a.definition.name_slug.contains(&needle)
        })
        .filter(|a| {
            query.category_ids.is_empty()
                || a.definition.categories.iter().any(|c| {
                    let cat = category(c);
                    query
                        .category_ids
                        .iter()
                        .any(|wanted| *wanted == cat.id || wanted.eq_ignore_ascii_case(c))
                })
        })
        .collect();
    match query.sort_key.as_deref() {
        Some("name") => apps.sort_by(|a, b| {
            a.definition
                .name
                .to_lowercase()
                .cmp(&b.definition.name.to_lowercase())
        }),
        Some("name_slug") => {
            apps.sort_by(|a, b| a.definition.name_slug.cmp(&b.definition.name_slug))
        }
        Some(_) => apps.sort_by(|a, b| {
            let wa = a.definition.featured_weight.unwrap_or(0.0);
            let wb = b.definition.featured_weight.unwrap_or(0.0);
            wa.total_cmp(&wb)
        }),
        None => {}
    }
    if query.descending {
        apps.reverse();
    }
    Ok(catalog_page(&apps, offset, limit))
}

/// `GET /v1/connect/apps/{app_id}` → `{data: App}` (wrapped, unlike accounts).
pub(crate) async fn get(
    State(state): State<AppState>,
    viewer: CatalogViewer,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    let app = state
        .catalog
        .resolve(&*state.store, &viewer.workspace_id, &key)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    Ok(Json(views::Data { data: &*app.view }).into_response())
}

/// `GET /v1/connect/app_categories` → bare array.
pub(crate) async fn list_categories(
    State(state): State<AppState>,
    viewer: CatalogViewer,
) -> ApiResult<Response> {
    let apps = state
        .catalog
        .list(&*state.store, &viewer.workspace_id)
        .await?;
    Ok(Json(categories(&apps)).into_response())
}

/// `GET /v1/connect/app_categories/{id}` → bare category.
pub(crate) async fn get_category(
    State(state): State<AppState>,
    viewer: CatalogViewer,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let apps = state
        .catalog
        .list(&*state.store, &viewer.workspace_id)
        .await?;
    let found = categories(&apps)
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::not_found("app category"))?;
    Ok(Json(found).into_response())
}
