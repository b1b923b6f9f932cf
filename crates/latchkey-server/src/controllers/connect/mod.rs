//! `/v1/connect/…` — the Connect API (API.md §3), for the product's server and, with a connect
//! token, the end user's browser.
//!
//! Project routes name the project (`/v1/connect/{project_id}/…`); the browser SDK sends a
//! connect token and no project (`/v1/connect/accounts`), and the project comes from the token.

pub(crate) mod accounts;
pub(crate) mod apps;
pub(crate) mod oauth_apps;
pub(crate) mod overrides;
pub(crate) mod projects;
pub(crate) mod tokens;
pub(crate) mod users;

use axum::{extract::FromRequestParts, http::request::Parts};
use latchkey_domain::connect::Environment;

use crate::{
    error::ApiError,
    service::{
        connect::{self, ConnectCaller, ConnectPrincipal},
        Caller,
    },
    AppState,
};

/// The bearer token of a request, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The `x-pd-environment` header: `None` when absent, 400 when not an environment.
fn environment_header(parts: &Parts) -> Result<Option<Environment>, ApiError> {
    match parts.headers.get("x-pd-environment") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Environment::parse)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid("x-pd-environment", "must be development or production")
            }),
    }
}

/// The project id in the path (`/v1/connect/proj_…/…`), if the route has one.
fn project_in_path(parts: &Parts) -> Option<&str> {
    // Inside the `/v1` nest the path has lost its `/v1` prefix.
    let path = parts.uri.path();
    let rest = path
        .strip_prefix("/v1/connect/")
        .or_else(|| path.strip_prefix("/connect/"))?;
    let segment = rest.split('/').next()?;
    segment.starts_with("proj_").then_some(segment)
}

impl FromRequestParts<AppState> for ConnectCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let header_environment = environment_header(parts)?;
        let path_project = project_in_path(parts).map(str::to_owned);
        if token.starts_with("ctok_") {
            let (project, environment, grant) = connect::tokens::resolve(state, token)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            if path_project.as_ref().is_some_and(|p| *p != project.id) {
                return Err(ApiError::not_found("project"));
            }
            if header_environment.is_some_and(|e| e != environment) {
                return Err(ApiError::invalid(
                    "x-pd-environment",
                    "does not match the connect token's environment",
                ));
            }
            return Ok(ConnectCaller {
                project,
                environment,
                principal: ConnectPrincipal::Token(grant),
            });
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        let project_id = path_project.ok_or_else(|| {
            ApiError::bad_request("this route needs a project id in the path, or a connect token")
        })?;
        let environment = header_environment.ok_or_else(|| {
            ApiError::invalid("x-pd-environment", "is required: development or production")
        })?;
        let project = connect::server_project(state, &caller, &project_id).await?;
        Ok(ConnectCaller {
            project,
            environment,
            principal: ConnectPrincipal::Server(caller),
        })
    }
}

/// Who may browse the app catalog through Connect: a server caller or a connect token.
#[derive(Debug)]
pub(crate) struct CatalogViewer {
    pub(crate) workspace_id: String,
}

impl FromRequestParts<AppState> for CatalogViewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        if token.starts_with("ctok_") {
            let (project, _, _) = connect::tokens::resolve(state, token)
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            return Ok(Self {
                workspace_id: project.workspace_id,
            });
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        caller
            .require_scope("apps:read")
            .or_else(|_| caller.require_scope("connect:*"))?;
        Ok(Self {
            workspace_id: caller.workspace_id().to_owned(),
        })
    }
}
