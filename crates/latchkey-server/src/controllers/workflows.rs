//! `/v1/workflows` — workflows, steps, step tests and runs. Responses are wrapped in `{data}`.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use latchkey_store::{Run, Workflow};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    error::{ApiError, ApiResult, AppJson},
    service::{
        workflows::{self, run, NewStep, StepPatch, StepView},
        Caller,
    },
    AppState,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkflowBody {
    name: String,
    builder: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "empty_object")]
    props: Value,
    #[serde(default)]
    accounts: BTreeMap<String, String>,
}

fn empty_object() -> Value {
    json!({})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepPatchBody {
    name: Option<String>,
    props: Option<Value>,
    accounts: Option<BTreeMap<String, String>>,
}

/// A trigger event: the JSON body, or `null` when there is none.
fn trigger_event(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request("the body must be JSON (the trigger event)"))
}

fn hook_url(state: &AppState, id: &str) -> String {
    format!("{}/hooks/{id}", state.config.public_base_url())
}

/// `POST /v1/workflows/{id}/hook_secret` — a new secret for the HTTP trigger (shown once).
pub(crate) async fn rotate_hook_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let secret = workflows::hooks::rotate(&state, &caller, &id).await?;
    Ok(Json(json!({"data": {
        "hook_url": hook_url(&state, &id),
        "hook_secret": secret.expose_secret(),
    }})))
}

/// `POST /hooks/{workflow_id}` — the HTTP trigger: `Authorization: Bearer <hook secret>`; the
/// body is the event; `x-latchkey-nostore: 1` keeps the payload out of storage.
pub(crate) async fn hook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let secret = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    let nostore = headers
        .get("x-latchkey-nostore")
        .is_some_and(|v| v.as_bytes() == b"1" || v.as_bytes().eq_ignore_ascii_case(b"true"));
    let event = trigger_event(&body)?;
    let run = run::run_from_hook(&state, &id, secret, event, nostore).await?;
    Ok(Json(json!({"data": run_view(&run)})))
}

fn workflow_view(w: &Workflow) -> Value {
    json!({
        "id": w.id,
        "name": w.name,
        "builder": w.builder,
        "created_at": clock::iso(w.created_at),
        "updated_at": clock::iso(w.updated_at),
    })
}

fn step_view(v: &StepView) -> Value {
    let s = &v.step;
    let accounts: BTreeMap<&String, Value> = s
        .accounts
        .iter()
        .map(|(prop, id)| (prop, json!({"id": id})))
        .collect();
    json!({
        "id": s.id,
        "name": s.name,
        "type": s.kind,
        "position": s.position,
        "props": serde_json::from_str::<Value>(&s.props).unwrap_or_else(|_| json!({})),
        "accounts": accounts,
        "editable": v.editable,
        "read_only_reason": v.read_only_reason,
        "updated_at": clock::iso(s.updated_at),
    })
}

fn run_view(r: &Run) -> Value {
    json!({
        "id": r.id,
        "workflow_id": r.workflow_id,
        "step_id": r.step_id,
        "status": r.status,
        "exports": serde_json::from_str::<Value>(&r.exports).unwrap_or_else(|_| json!({})),
        "logs": serde_json::from_str::<Value>(&r.logs).unwrap_or_else(|_| json!([])),
        "error": r.error,
        "started_at": clock::iso(r.started_at),
        "finished_at": clock::iso(r.finished_at),
    })
}

/// `POST /v1/workflows`
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<WorkflowBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (workflow, secret) =
        workflows::create(&state, &caller, &body.name, body.builder.as_deref()).await?;
    let mut view = workflow_view(&workflow);
    view["steps"] = json!([]);
    view["hook_url"] = json!(hook_url(&state, &workflow.id));
    view["hook_secret"] = json!(secret.expose_secret());
    Ok((StatusCode::CREATED, Json(json!({"data": view}))))
}

/// `GET /v1/workflows`
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let all = workflows::list(&state, &caller).await?;
    let data: Vec<Value> = all.iter().map(workflow_view).collect();
    Ok(Json(json!({"data": data})))
}

/// `GET /v1/workflows/{id}`
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let view = workflows::get(&state, &caller, &id).await?;
    let mut data = workflow_view(&view.workflow);
    data["steps"] = view.steps.iter().map(step_view).collect();
    Ok(Json(json!({"data": data})))
}

/// `POST /v1/workflows/{id}/steps`
pub(crate) async fn add_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AppJson(body): AppJson<StepBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let step = workflows::add_step(
        &state,
        &caller,
        &id,
        NewStep {
            name: body.name,
            kind: body.kind,
            props: body.props,
            accounts: body.accounts,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"data": step_view(&step)}))))
}

/// `PATCH /v1/workflows/{id}/steps/{step_id}`
pub(crate) async fn patch_step(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, step_id)): Path<(String, String)>,
    AppJson(body): AppJson<StepPatchBody>,
) -> ApiResult<Json<Value>> {
    let step = workflows::patch_step(
        &state,
        &caller,
        &id,
        &step_id,
        StepPatch {
            name: body.name,
            props: body.props,
            accounts: body.accounts,
        },
    )
    .await?;
    Ok(Json(json!({"data": step_view(&step)})))
}

/// `POST /v1/workflows/{id}/steps/{step_id}/test`
pub(crate) async fn test_step(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, step_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let run = run::test_step(&state, &caller, &id, &step_id).await?;
    Ok(Json(json!({"data": run_view(&run)})))
}

/// `GET /v1/workflows/{id}/runs` — the latest 20 runs, newest first.
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let runs = run::list_runs(&state, &caller, &id, 20).await?;
    let data: Vec<Value> = runs.iter().map(run_view).collect();
    Ok(Json(json!({"data": data})))
}

/// `POST /v1/workflows/{id}/runs` — the body is the trigger event (optional).
pub(crate) async fn run_workflow(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let event = trigger_event(&body)?;
    let run = run::run_workflow(&state, &caller, &id, event).await?;
    Ok((StatusCode::CREATED, Json(json!({"data": run_view(&run)}))))
}
