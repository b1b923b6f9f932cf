//! Bearer authentication for `/v1`: a member API key (`lk_key_…`) or an access token from
//! `/v1/oauth/token` (`lk_at_…`). Every failure, whatever its cause, is the same 401.

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{error::ApiError, service::Caller, AppState};

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let (scheme, token) = header.split_once(' ').ok_or_else(ApiError::unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::unauthorized());
        }
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(ApiError::unauthorized());
        }
        let principal =
            crate::service::provisioning::authenticate(&*state.store, &state.caches, token).await?;
        principal
            .map(|p| Caller((*p).clone()))
            .ok_or_else(ApiError::unauthorized)
    }
}
