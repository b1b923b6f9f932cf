//! `/v1/env` — workspace environment variables: any member lists them (secret values never
//! shown); admins set (`PUT /v1/env/{name}`) and delete them.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    clock,
    error::{ApiResult, AppJson},
    service::{
        env_vars::{self, EnvVarView},
        Caller,
    },
    AppState,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvBody {
    value: SecretString,
    secret: Option<bool>,
}

fn view(v: &EnvVarView) -> Value {
    json!({
        "name": v.name,
        "secret": v.secret,
        "value": v.value,
        "updated_at": clock::iso(v.updated_at),
    })
}

/// `GET /v1/env`
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let vars = env_vars::list(&state, &caller).await?;
    let data: Vec<Value> = vars.iter().map(view).collect();
    Ok(Json(json!({"data": data})))
}

/// `PUT /v1/env/{name}`
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    AppJson(body): AppJson<EnvBody>,
) -> ApiResult<Json<Value>> {
    let var = env_vars::put(&state, &caller, &name, &body.value, body.secret).await?;
    Ok(Json(json!({"data": view(&var)})))
}

/// `DELETE /v1/env/{name}`
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    env_vars::delete(&state, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
