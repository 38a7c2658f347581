//! The HTTP API: the shared state, the routes and the handlers of `/v1/stylize`, `/v1/embed`,
//! `/v1/styles`, `/healthz` and `/metrics` (the layers in front of them are in
//! [`super::layers`], the form they read in [`super::form`]).

use std::sync::Arc;

use crate::style_source::BUILTINS;
use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use image::ImageFormat;

use super::error::ApiError;
use super::form::{drain, number, read_form, rejected};
use super::layers::{count, declared_size, require_token};
use super::pool::{Admission, Done, EmbedJob, StylizeJob, Work};
use super::state::{content_type, AppState, Shared};
use super::{page, webcam};

/// The whole service.
pub fn router(state: Shared) -> Router {
    let body_limit = usize::try_from(state.max_upload).unwrap_or(usize::MAX);
    let api = Router::new()
        .route("/v1/stylize", post(stylize))
        .route("/v1/embed", post(embed))
        .route("/v1/styles", get(styles))
        .route("/v1/webcam", get(webcam::upgrade))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            super::guard::same_site,
        ));
    Router::new()
        .merge(api)
        .route("/healthz", get(healthz))
        .merge(page::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), declared_size))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: see GET /v1/styles, POST /v1/stylize, POST /v1/embed, /v1/webcam, /healthz, /metrics",
    )
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method: /v1/stylize and /v1/embed take POST, the others GET",
    )
}

async fn healthz(State(state): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "workers": state.pool.workers,
        "queued": state.pool.queued(),
    }))
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(state.pool.queued()),
    )
        .into_response()
}

async fn styles(State(state): State<Shared>) -> Json<serde_json::Value> {
    let styles: Vec<_> = BUILTINS
        .iter()
        .map(|b| serde_json::json!({ "name": b.name, "credit": b.credit }))
        .collect();
    Json(serde_json::json!({
        "styles": styles,
        "presets": if state.pool.has_presets { crate::presets::NUM_PRESETS } else { 0 },
        "formats": ["png", "jpg", "webp"],
        "engine": state.pool.engine,
        "model_sha256": state.pool.predictor_sha256,
        "limits": {
            "max_upload_bytes": state.max_upload,
            "max_pixels": state.max_pixels,
            "max_styles": crate::look::MAX_PALETTE,
            "timeout_s": state.timeout.as_secs(),
        },
    }))
}

/// An answer's body that keeps the request's place in the pool until it has been sent, so
/// that the places bound the answers held in memory too.
struct HeldBody {
    data: Option<Bytes>,
    admission: Option<Arc<Admission>>,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        std::task::Poll::Ready(match this.data.take() {
            Some(data) => Some(Ok(http_body::Frame::data(data))),
            None => {
                this.admission = None;
                None
            }
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

fn held(data: Vec<u8>, admission: Arc<Admission>) -> Body {
    Body::new(HeldBody {
        data: Some(Bytes::from(data)),
        admission: Some(admission),
    })
}

/// Runs `f` under the request time-out (waiting, reading and stylizing all count).
async fn in_time<T>(
    state: &AppState,
    f: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(state.timeout, f)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::busy(format!(
            "timed out after {} s; the server is busy or the picture is too large (try max_size)",
            state.timeout.as_secs()
        )))
        })
}

/// Takes a place in the pool, or refuses after draining the upload.
async fn admit(state: &AppState, multipart: &mut Multipart) -> Result<Arc<Admission>, ApiError> {
    match state.pool.admit() {
        Ok(a) => Ok(Arc::new(a)),
        Err(e) => {
            drain(multipart).await;
            Err(e)
        }
    }
}

async fn stylize(
    State(state): State<Shared>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(rejected)?;
    let admission = admit(&state, &mut multipart).await?;
    in_time(&state, async {
        let form = read_form(
            &mut multipart,
            &[
                "image",
                "style",
                "preset",
                "weights",
                "strength",
                "preserve_color",
                "max_size",
                "format",
                "quality",
            ],
            &state.pool.predictor_sha256,
        )
        .await?;
        let (photo, photo_name) = form.image.ok_or_else(|| {
            ApiError::bad_request("no image: send the photo as an 'image' file part")
        })?;
        let look = form.look.check()?;
        let max_size = number("max_size", &form.max_size, 16u32..=32_768)?;
        let format = match form.format.as_deref().map(str::trim) {
            None | Some("png") => ImageFormat::Png,
            Some("jpg" | "jpeg") => ImageFormat::Jpeg,
            Some("webp") => ImageFormat::WebP,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "format: '{other}' is not png, jpg or webp"
                )))
            }
        };
        let quality =
            number("quality", &form.quality, 1u8..=100)?.unwrap_or(crate::images::JPEG_QUALITY);
        let done = state
            .pool
            .run(
                Arc::clone(&admission),
                Work::Stylize(StylizeJob {
                    photo,
                    photo_name,
                    look,
                    max_size,
                    format,
                    quality,
                }),
            )
            .await?;
        let Done::Image {
            bytes,
            format,
            width,
            height,
            inference_ms,
        } = done
        else {
            return Err(ApiError::internal(
                "a stylizer answered with something else",
            ));
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            content_type(format).parse().expect("ascii"),
        );
        headers.insert(
            "x-brushwork-size",
            format!("{width}x{height}").parse().expect("ascii"),
        );
        headers.insert(
            "x-brushwork-inference-ms",
            format!("{inference_ms:.1}").parse().expect("ascii"),
        );
        Ok((headers, held(bytes, admission)).into_response())
    })
    .await
}

async fn embed(
    State(state): State<Shared>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(rejected)?;
    let admission = admit(&state, &mut multipart).await?;
    in_time(&state, async {
        let form = read_form(
            &mut multipart,
            &["image", "name"],
            &state.pool.predictor_sha256,
        )
        .await?;
        let (painting, source) = form.image.ok_or_else(|| {
            ApiError::bad_request("no image: send the painting as an 'image' file part")
        })?;
        let name = match form.name {
            Some(n) => n.trim().to_string(),
            None => std::path::Path::new(&source)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "style".into()),
        };
        if let Err(why) = crate::style_file::check_name(&name) {
            return Err(ApiError::bad_request(format!("name: {why}")));
        }
        let done = state
            .pool
            .run(
                Arc::clone(&admission),
                Work::Embed(EmbedJob {
                    painting,
                    source,
                    name,
                }),
            )
            .await?;
        let Done::StyleFile(json) = done else {
            return Err(ApiError::internal(
                "a stylizer answered with something else",
            ));
        };
        Ok((
            [(header::CONTENT_TYPE, "application/json")],
            held(json.into_bytes(), admission),
        )
            .into_response())
    })
    .await
}
