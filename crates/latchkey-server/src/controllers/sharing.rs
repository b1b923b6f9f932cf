//! `GET` / `PUT /v1/accounts/{id}/access` — who an account is shared with. The paths and the
//! fields `mode` and `member_ids` are a contract for scripts.

use axum::{
    extract::{Path, State},
    Json,
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{ApiResult, AppJson},
    service::{sharing, Caller},
    views, AppState,
};

/// The body of `PUT` and the `data` of both answers.
#[derive(Serialize)]
pub(crate) struct AccessView {
    mode: &'static str,
    member_ids: Vec<String>,
}

impl From<sharing::Access> for AccessView {
    fn from(access: sharing::Access) -> Self {
        Self {
            mode: access.mode.as_str(),
            member_ids: access.member_ids,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessBody {
    mode: String,
    #[serde(default)]
    member_ids: Vec<String>,
}

/// `GET /v1/accounts/{id}/access`
pub(crate) async fn get_access(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<views::Data<AccessView>>> {
    let access = sharing::get(&state, &caller, &id).await?;
    Ok(Json(views::Data {
        data: access.into(),
    }))
}

/// `PUT /v1/accounts/{id}/access`
pub(crate) async fn put_access(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AppJson(body): AppJson<AccessBody>,
) -> ApiResult<Json<views::Data<AccessView>>> {
    let mode = sharing::parse_mode(&body.mode)?;
    let access = sharing::set(&state, &caller, &id, mode, body.member_ids).await?;
    Ok(Json(views::Data {
        data: access.into(),
    }))
}
