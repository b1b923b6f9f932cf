//! The API's one error shape: `{"error": "<message>", "code": "<stable code>"}` (plus `field`
//! for validation errors). Every failure, including malformed JSON, unknown routes and panics,
//! answers in this shape.
//!
//! 5xx answers are generic: the detail goes into the log (once, by the middleware in
//! `router.rs`), never into the response.

use axum::{
    extract::{rejection::JsonRejection, rejection::QueryRejection, FromRequest, FromRequestParts},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use latchkey_domain::ValidationError;
use latchkey_store::StoreError;
use serde_json::json;

use crate::{service::ServiceError, vault::VaultError};

/// An error answered by the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    /// Logged by the middleware, never sent.
    internal: Option<String>,
}

/// Detail of a 5xx, attached to the response for the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalErrorDetail(pub String);

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            internal: None,
        }
    }

    /// 400 with the offending field named.
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{field}: {message}"),
        );
        e.field = Some(field);
        e
    }

    /// 400 without a single field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401, identical whatever the cause (missing, malformed, unknown, expired, revoked).
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid credentials",
        )
    }

    /// 403: the caller may see the resource but not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 500 with a detail for the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        );
        e.internal = Some(detail.to_string());
        e
    }

    /// Any status with a custom code (e.g. `413 payload_too_large`).
    pub fn with_status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, code, message)
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message, "code": self.code });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(detail) = self.internal {
            response
                .extensions_mut()
                .insert(InternalErrorDetail(detail));
        }
        response
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("resource"),
            StoreError::Conflict(what) => Self::conflict(format!("{what} already exists")),
            StoreError::Database(_) => Self::internal(error_chain(&e)),
        }
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        Self::internal(error_chain(&e))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(v) => v.into(),
            ServiceError::NotFound(what) => Self::not_found(what),
            ServiceError::Forbidden(m) => Self::forbidden(m),
            ServiceError::Conflict(m) => Self::conflict(m),
            ServiceError::Store(s) => s.into(),
            ServiceError::Vault(v) => v.into(),
            ServiceError::Internal(detail) => Self::internal(detail),
            ServiceError::Unavailable(m) => {
                Self::with_status(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
        }
    }
}

/// `error: cause: cause` for logs.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn from_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::with_status(status, "payload_too_large", "request body is too large")
    } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        ApiError::with_status(
            status,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        )
    } else {
        ApiError::bad_request(text)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        from_rejection(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        from_rejection(r.status(), r.body_text())
    }
}

/// `Json` whose rejections answer in the API's error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

/// `Query` whose rejections answer in the API's error shape.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
