//! `/v1/apps` (catalog, custom apps) and `/v1/app_requests`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, value::RawValue, Value};

use super::limit;
use crate::{
    clock,
    error::{ApiError, ApiResult, AppJson, AppQuery},
    service::{apps, Caller},
    views, AppState,
};

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/apps` — searchable by name (contains) and category; offset cursor.
pub(crate) async fn list_apps(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    caller.require_scope("apps:read")?;
    let limit = limit(query.limit.as_deref())? as usize;
    let offset = offset_cursor(query.after.as_deref())?;
    let needle = query.q.unwrap_or_default().to_lowercase();
    let apps: Vec<_> = state
        .catalog
        .list(&*state.store, caller.workspace_id())
        .await?
        .into_iter()
        .filter(|a| {
            needle.is_empty()
                || a.definition.name.to_lowercase().contains(&needle)
                || a.definition.name_slug.contains(&needle)
        })
        .filter(|a| {
            query.category.as_ref().is_none_or(|c| {
                a.definition
                    .categories
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(c))
            })
        })
        .collect();
    Ok(catalog_page(&apps, offset, limit))
}

/// Reads an `o<offset>` cursor of a catalog listing (`None`, empty: the start).
pub(crate) fn offset_cursor(after: Option<&str>) -> ApiResult<usize> {
    match after.filter(|s| !s.is_empty()) {
        None => Ok(0),
        Some(c) => c
            .strip_prefix('o')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::invalid("after", "is not a cursor from this API")),
    }
}

/// One page of a catalog listing: the pre-rendered App objects, with `o<offset>` cursors.
pub(crate) fn catalog_page(
    apps: &[crate::catalog::CatalogApp],
    offset: usize,
    limit: usize,
) -> Response {
    let page: Vec<&RawValue> = apps
        .iter()
        .skip(offset)
        .take(limit)
        .map(|a| &*a.view)
        .collect();
    let end = offset + page.len();
    let page_info = views::PageInfo {
        total_count: i64::try_from(apps.len()).unwrap_or(i64::MAX),
        count: page.len(),
        start_cursor: (!page.is_empty()).then(|| format!("o{offset}")),
        end_cursor: (end < apps.len()).then(|| format!("o{end}")),
    };
    Json(views::Listing {
        data: page,
        page_info,
    })
    .into_response()
}

/// `GET /v1/apps/{id_or_slug}`
pub(crate) async fn get_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    caller.require_scope("apps:read")?;
    let app = state
        .catalog
        .resolve(&*state.store, caller.workspace_id(), &key)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?;
    Ok(Json(views::Data { data: &*app.view }).into_response())
}

/// `POST /v1/apps` — add a custom app (admins).
pub(crate) async fn create_app(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Response> {
    let app = apps::create_custom_app(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, Json(views::Data { data: &*app.view })).into_response())
}

fn app_request(r: &latchkey_store::AppRequest) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "url": r.url,
        "note": r.note,
        "requested_by": r.requested_by,
        "created_at": clock::iso(r.created_at),
    })
}

/// `POST /v1/app_requests`
pub(crate) async fn create_app_request(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<apps::NewAppRequest>,
) -> ApiResult<impl IntoResponse> {
    let request = apps::request_app(&state, &caller, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "data": app_request(&request) })),
    ))
}

/// `GET /v1/app_requests` (admins)
pub(crate) async fn list_app_requests(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let requests = apps::list_app_requests(&state, &caller).await?;
    Ok(Json(
        json!({ "data": requests.iter().map(app_request).collect::<Vec<_>>() }),
    ))
}
