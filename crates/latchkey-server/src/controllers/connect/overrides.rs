//! `/v1/connect/{project_id}/app_overrides` (API.md §3 #19–#20, §4.9).

use std::collections::BTreeMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use latchkey_store::{AppOverride, Page};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    controllers::{accounts::scalar_fields, limit},
    error::{ApiError, ApiResult, AppJson, AppQuery},
    service::connect::{overrides, tokens, ConnectCaller},
    views, AppState,
};

async fn view(state: &AppState, caller: &ConnectCaller, o: &AppOverride) -> Value {
    let app = match tokens::resolve_app(state, &caller.project, &o.app_slug).await {
        Ok(app) => serde_json::from_str::<Value>(app.view.get()).unwrap_or(Value::Null),
        Err(_) => json!({"name_slug": o.app_slug}),
    };
    json!({
        "id": o.id,
        "name": o.name,
        "app": app,
        "oauth_app_id": o.oauth_app_id,
        "cfmap": overrides::preset(o),
        "owner_id": o.project_id,
        "created_at": clock::iso(o.created_at),
        "updated_at": clock::iso(o.updated_at),
    })
}

fn scalars(cfmap: Option<BTreeMap<String, Value>>) -> ApiResult<Option<BTreeMap<String, String>>> {
    cfmap.map(scalar_fields).transpose()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    app: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

/// `GET …/app_overrides` → `{data, page_info}`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppQuery(query): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    let _ = (query.after, query.before, limit(query.limit.as_deref())?);
    let all = overrides::list(&state, &caller, query.app.as_deref()).await?;
    let mut data = Vec::with_capacity(all.len());
    for o in &all {
        data.push(view(&state, &caller, o).await);
    }
    let page = Page {
        total_count: i64::try_from(data.len()).unwrap_or(i64::MAX),
        start_cursor: None,
        end_cursor: None,
        items: data,
    };
    let page_info = views::PageInfo::of(&page);
    Ok(Json(views::Listing {
        data: page.items,
        page_info,
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Body {
    app: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    oauth_app_id: Option<Option<String>>,
    cfmap: Option<BTreeMap<String, Value>>,
}

/// `POST …/app_overrides` → bare AppOverride (201).
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: ConnectCaller,
    AppJson(body): AppJson<Body>,
) -> ApiResult<Response> {
    let input = overrides::OverrideInput {
        app: body.app,
        name: body.name,
        oauth_app_id: body.oauth_app_id,
        cfmap: scalars(body.cfmap)?,
    };
    let o = overrides::create(&state, &caller, input).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &caller, &o).await)).into_response())
}

/// `null` and absent differ on update: `Some(None)` clears, `None` keeps.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn id_of(path: &[String]) -> &str {
    path.last().map_or("", String::as_str)
}

/// `GET …/app_overrides/{id}` → bare AppOverride.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    let o = overrides::get(&state, &caller, id_of(&path)).await?;
    Ok(Json(view(&state, &caller, &o).await).into_response())
}

/// `PUT …/app_overrides/{id}` → bare AppOverride.
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
    AppJson(body): AppJson<Body>,
) -> ApiResult<Response> {
    if body.app.is_some() {
        return Err(ApiError::invalid(
            "app",
            "cannot change; create another override",
        ));
    }
    let input = overrides::OverrideInput {
        app: None,
        name: body.name,
        oauth_app_id: body.oauth_app_id,
        cfmap: scalars(body.cfmap)?,
    };
    let o = overrides::update(&state, &caller, id_of(&path), input).await?;
    Ok(Json(view(&state, &caller, &o).await).into_response())
}

/// `DELETE …/app_overrides/{id}` → 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: ConnectCaller,
    Path(path): Path<Vec<String>>,
) -> ApiResult<Response> {
    overrides::delete(&state, &caller, id_of(&path)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
