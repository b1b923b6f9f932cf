//! `/v1/connect/projects` — the workspace's Connect projects (admins and API clients).

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use latchkey_store::Project;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    error::{ApiResult, AppJson},
    service::{connect::projects, Caller},
    AppState,
};

fn view(p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "support_email": p.support_email,
        "created_at": clock::iso(p.created_at),
    })
}

fn require_manager(caller: &Caller, scope: &str) -> ApiResult<()> {
    if caller.user_id().is_some() {
        caller.require_admin()?;
    }
    caller.require_scope(scope)?;
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: String,
    #[serde(default)]
    support_email: Option<String>,
}

/// `POST /v1/connect/projects` → 201 `{data: Project}`.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<CreateBody>,
) -> ApiResult<Response> {
    require_manager(&caller, "connect:projects:write")?;
    let project = projects::create(
        &*state.store,
        caller.workspace_id(),
        &body.name,
        body.support_email.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"data": view(&project)}))).into_response())
}

/// `GET /v1/connect/projects` → `{data: [Project]}`.
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    require_manager(&caller, "connect:projects:read")?;
    let all = state.store.list_projects(caller.workspace_id()).await?;
    Ok(Json(json!({"data": all.iter().map(view).collect::<Vec<_>>()})).into_response())
}
