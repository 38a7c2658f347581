//! What the API answers when it cannot do what was asked: a status and one line of JSON.

use crate::images::ImageError;
use crate::look::values::ValueError;
use crate::presets::PresetError;
use crate::style::BlendError;
use crate::style_file::StyleFileError;
use crate::{EngineError, StylizeError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answer: `{"error": "..."}` with its status (400 bad input, 401 no token, 413 too
/// large, 503 busy or timed out with `Retry-After`, 500 the server's own failure).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `Retry-After` (503 only).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// 503: every stylizer busy and the queue full, or a request that ran out of time.
    pub fn busy(message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body + "\n",
        )
            .into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

impl From<ImageError> for ApiError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::TooLarge {
                path,
                width,
                height,
                max_pixels,
            } => ApiError::too_large(format!(
                "{}: image is {width}x{height} ({:.2} megapixels); this server decodes at most {} megapixels and {} px a side, whatever max_size says: scale it down first",
                path.display(),
                f64::from(width) * f64::from(height) / 1e6,
                max_pixels as f64 / 1e6,
                crate::images::MAX_SIDE
            )),
            e => ApiError::bad_request(e.to_string()),
        }
    }
}

impl From<StylizeError> for ApiError {
    /// The library's messages name command-line options; a client's remedy is a request field
    /// (`max_size`) or a smaller picture. The models are the operator's: a broken one is the
    /// server's fault (500), not the client's.
    fn from(e: StylizeError) -> Self {
        match e {
            StylizeError::Engine(EngineError::OutOfMemory(reason)) => ApiError::too_large(format!(
                "not enough memory to stylize this picture: {reason}; send a smaller picture or set max_size"
            )),
            StylizeError::OverBudget {
                width,
                height,
                needed,
                budget,
                ..
            } => ApiError::too_large(format!(
                "a {width}x{height} picture needs at least {} MiB even in tiles, over this server's memory budget of {} MiB; send a smaller picture or set max_size",
                needed >> 20,
                budget >> 20
            )),
            StylizeError::CannotTile {
                width,
                height,
                needed,
                budget,
                ..
            } => ApiError::too_large(format!(
                "a {width}x{height} picture needs about {} MiB, over this server's memory budget of {} MiB, and cannot run in tiles here; send a smaller picture or set max_size",
                needed >> 20,
                budget >> 20
            )),
            StylizeError::Engine(EngineError::Model(_) | EngineError::NoVariant { .. }) => {
                ApiError::internal(format!("the server's models: {e}"))
            }
            e if e.is_user_error() => ApiError::bad_request(e.to_string()),
            e => ApiError::internal(e.to_string()),
        }
    }
}

impl From<StyleFileError> for ApiError {
    fn from(e: StyleFileError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<BlendError> for ApiError {
    fn from(e: BlendError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<ValueError> for ApiError {
    fn from(e: ValueError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

impl From<PresetError> for ApiError {
    fn from(e: PresetError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}
