//! The HTTP API: routes, the bearer token, request counting and the handlers.

use std::sync::Arc;
use std::time::Duration;

use crate::style_source::BUILTINS;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use image::ImageFormat;

use super::error::ApiError;
use super::look_spec::{LookFields, MAX_TEXT_FIELD};
use super::metrics::Metrics;
use super::pool::{Admission, Done, EmbedJob, Pool, StylizeJob, Work};
use super::{page, webcam};

/// What every handler shares.
pub struct AppState {
    pub pool: Pool,
    pub metrics: Arc<Metrics>,
    pub token: Option<String>,
    pub timeout: Duration,
    pub max_upload: u64,
    pub max_pixels: u64,
    pub webcams: Arc<tokio::sync::Semaphore>,
    /// Listening on a loopback address: only loopback host names are served.
    pub loopback: bool,
    /// The port listened on: a loopback Host must name it.
    pub port: u16,
}

pub type Shared = Arc<AppState>;

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

/// A request that declares a body over `--max-upload` is answered 413 at once, before any of
/// it is read (the body limit alone would wait for bytes that may never come).
async fn declared_size(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_upload) {
        return ApiError::too_large(format!(
            "the request is over the server's limit: it declares {} bytes, the server takes at most {}",
            declared.unwrap_or(0),
            state.max_upload
        ))
        .into_response();
    }
    next.run(request).await
}

/// Counts every answer by route and status.
async fn count(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".into());
    let response = next.run(request).await;
    state
        .metrics
        .count_request(&endpoint, response.status().as_u16());
    response
}

/// With `--token`, the API and the metrics need `Authorization: Bearer TOKEN` (a browser's
/// WebSocket cannot send headers, so `/v1/webcam` also takes `?token=`).
async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let from_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let from_query = (request.uri().path() == "/v1/webcam")
        .then(|| request.uri().query())
        .flatten()
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .map(percent_decode)
        });
    let given = from_header.map(str::to_string).or(from_query);
    if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let mut refused = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this server needs its token: send Authorization: Bearer TOKEN",
    )
    .into_response();
    refused
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    refused
}

/// Compares in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `%XX` escapes of a query value (a token is usually plain, but may hold `+` or `/`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// The fields of `/v1/stylize` and `/v1/embed`.
#[derive(Default)]
struct Form {
    image: Option<(Bytes, String)>,
    look: LookFields,
    max_size: Option<String>,
    format: Option<String>,
    quality: Option<String>,
    name: Option<String>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    let status = e.status();
    // The body could not be read: the client's doing (over the limit, too slow, cut short, a
    // bad chunk), never the server's 500. (axum already says 413 for the body limit.)
    let timed_out = std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |c| {
        c.source()
    })
    .any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    });
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(format!(
            "the request is over the server's limit ({})",
            e.body_text()
        ))
    } else if timed_out {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request body stopped arriving for --timeout seconds",
        )
    } else if status.is_server_error() {
        ApiError::bad_request(format!(
            "the request body could not be read: cut short, or badly framed ({})",
            e.body_text()
        ))
    } else {
        ApiError::new(
            status,
            format!("malformed multipart form: {}", e.body_text()),
        )
    }
}

fn rejected(e: MultipartRejection) -> ApiError {
    ApiError::new(
        e.status(),
        format!("send a multipart/form-data request ({})", e.body_text()),
    )
}

/// Reads what is left of a refused request's body (within the body limit and a few seconds),
/// so that the client gets the answer instead of a connection reset mid-upload.
async fn drain(multipart: &mut Multipart) {
    let rest = async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), rest).await;
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

async fn text(field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let bytes = field.bytes().await.map_err(multipart_error)?;
    if bytes.len() > MAX_TEXT_FIELD {
        return Err(ApiError::too_large(format!(
            "{name}: a text field holds at most {MAX_TEXT_FIELD} bytes"
        )));
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request(format!("{name}: not UTF-8 text")))
}

/// Reads the form; `allowed` names the fields this endpoint takes (others are refused, so that
/// a misspelt field is not silently ignored). A refused form is drained (see [`drain`]).
async fn read_form(
    multipart: &mut Multipart,
    allowed: &[&str],
    model_sha256: &str,
) -> Result<Form, ApiError> {
    let form = read_fields(multipart, allowed, model_sha256).await;
    if form.is_err() {
        drain(multipart).await;
    }
    form
}

async fn read_fields(
    multipart: &mut Multipart,
    allowed: &[&str],
    model_sha256: &str,
) -> Result<Form, ApiError> {
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        let name = if name == "preserve_colour" {
            "preserve_color".to_string()
        } else {
            name
        };
        if !allowed.contains(&name.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown field '{name}'; this endpoint takes {}",
                allowed.join(", ")
            )));
        }
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        match name.as_str() {
            "image" => {
                if form.image.is_some() {
                    return Err(ApiError::bad_request("give one image"));
                }
                let bytes = field.bytes().await.map_err(multipart_error)?;
                form.image = Some((bytes, file_name.unwrap_or_else(|| "image".into())));
            }
            "style" => match file_name {
                Some(file) => {
                    let bytes = field.bytes().await.map_err(multipart_error)?;
                    form.look.push_style_file(
                        bytes,
                        &file,
                        content_type.as_deref(),
                        model_sha256,
                    )?;
                }
                None => {
                    let value = text(field, "style").await?;
                    form.look.push_style_text(&value, model_sha256)?;
                }
            },
            "preset" => form.look.presets.push(text(field, "preset").await?),
            "weights" => once(&mut form.look.weights, &name, text(field, &name).await?)?,
            "strength" => once(&mut form.look.strength, &name, text(field, &name).await?)?,
            "preserve_color" => once(
                &mut form.look.preserve_color,
                &name,
                text(field, &name).await?,
            )?,
            "max_size" => once(&mut form.max_size, &name, text(field, &name).await?)?,
            "format" => once(&mut form.format, &name, text(field, &name).await?)?,
            "quality" => once(&mut form.quality, &name, text(field, &name).await?)?,
            "name" => once(&mut form.name, &name, text(field, &name).await?)?,
            _ => unreachable!("checked against `allowed`"),
        }
        if form.look.count() > crate::look::MAX_PALETTE {
            return Err(ApiError::bad_request(format!(
                "more than {} styles; at most {} can be given",
                crate::look::MAX_PALETTE,
                crate::look::MAX_PALETTE
            )));
        }
    }
    Ok(form)
}

/// Sets a field that may be given once: a second value is refused rather than silently
/// replacing the first (the command line refuses a repeated option too).
fn once(slot: &mut Option<String>, field: &str, value: String) -> Result<(), ApiError> {
    if slot.is_some() {
        return Err(ApiError::bad_request(format!(
            "{field} is given twice; give it once"
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// A number field within `range`.
fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    text: &Option<String>,
    range: std::ops::RangeInclusive<T>,
) -> Result<Option<T>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(Some(v)),
        _ => Err(ApiError::bad_request(format!(
            "{field}: '{text}' is not a whole number from {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

fn content_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        _ => "image/webp",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole_and_decode_from_queries() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert_eq!(percent_decode("a%2Bb%2fc+%zz"), "a+b/c+%zz");
    }
}
