//! The layers every request passes through: a declared body over the limit answered 413 at
//! once, every answer counted by route and status, and the bearer token.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::Shared;

/// A request that declares a body over the upload limit (`--max-upload`) is answered 413 at once, before any of
/// it is read (the body limit alone would wait for bytes that may never come).
pub(super) async fn declared_size(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
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
pub(super) async fn count(State(state): State<Shared>, request: Request, next: Next) -> Response {
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

/// With a token (`--token`), the API and the metrics need `Authorization: Bearer TOKEN` (a browser's
/// WebSocket cannot send headers, so `/v1/webcam` also takes `?token=`).
pub(super) async fn require_token(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
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
