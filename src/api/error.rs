//! API errors: every error response is JSON `{"error": {"status": .., "message": ..}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// An HTTP error with a message for the user.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({"error": {"status": self.status.as_u16(), "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl From<duckdb::Error> for ApiError {
    fn from(e: duckdb::Error) -> Self {
        ApiError::internal(format!("database error: {e}"))
    }
}

impl From<crate::directory::scope::ScopeError> for ApiError {
    fn from(e: crate::directory::scope::ScopeError) -> Self {
        match e {
            crate::directory::scope::ScopeError::UnknownGroup(_) => {
                ApiError::bad_request(e.to_string())
            }
            crate::directory::scope::ScopeError::Db(e) => e.into(),
        }
    }
}

/// 404 for unknown API routes, as JSON.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route; see schemas/openapi.yaml",
    )
}
