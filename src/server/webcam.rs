//! `/v1/webcam`: a WebSocket that stylizes a browser's camera frames as they come.
//!
//! The client sends a settings message (text: JSON with the style fields of `/v1/stylize`,
//! paintings already turned into style files by `/v1/embed`) and then frames (binary, see
//! [`super::frames`]). The server keeps one frame waiting per connection: a newer frame replaces
//! it (latest frame wins), so latency stays bounded when the camera is faster than the
//! stylizers. Each stylized frame goes back as binary, followed by a text message with its
//! timings. New settings apply from the next frame on.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use crate::look::Look;
use crate::style::StyleEmbedding;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::OwnedSemaphorePermit;

use super::error::ApiError;
use super::frames::Frame;
use super::look_spec::{LookFields, LookSpec};
use super::pool::{Done, FrameJob, Work};
use super::state::Shared;
use crate::look::values;

/// Frames between two computations of the picture's own style (strength below 1).
const OWN_EVERY: u32 = 30;

/// The settings message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Built-in names or style files' JSON text.
    #[serde(default)]
    style: Vec<String>,
    #[serde(default)]
    preset: Vec<String>,
    weights: Option<Vec<f64>>,
    strength: Option<f32>,
    #[serde(default, alias = "preserve_colour")]
    preserve_color: bool,
}

/// The largest settings message: nine style files and change.
const MAX_SETTINGS_BYTES: usize = crate::look::MAX_PALETTE * 64 * 1024 + 4096;

impl Settings {
    /// The look the settings describe, checked by the same validators as a form's fields,
    /// on the typed values (nothing is turned back into text).
    fn look(self, model_sha256: &str) -> Result<Look, ApiError> {
        let mut fields = LookFields::default();
        for s in &self.style {
            fields.push_style_text(s, model_sha256)?;
        }
        let (weights, strength) = (self.weights, self.strength);
        LookSpec::check(
            fields.styles,
            &self.preset,
            || Ok(weights),
            || {
                strength
                    .map(|s| values::check_strength("strength", s))
                    .transpose()
            },
            || Ok(self.preserve_color),
        )?
        .resolve(|_, _| {
            Err(ApiError::bad_request(
                "webcam styles are built-in names or style files (POST /v1/embed makes one from a painting)",
            ))
        })
    }
}

pub async fn upgrade(
    State(state): State<Shared>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("/v1/webcam is a WebSocket ({})", e.body_text()),
        )
    })?;
    let permit = state.webcams.clone().try_acquire_owned().map_err(|_| {
        ApiError::busy("too many webcams connected at once (see --max-webcams); retry shortly")
    })?;
    let limit = usize::try_from(state.max_upload).unwrap_or(usize::MAX);
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| session(state, socket, permit)))
}

type Running = Pin<Box<dyn Future<Output = (Result<Done, ApiError>, Instant)> + Send>>;

async fn session(state: Shared, mut socket: WebSocket, _permit: OwnedSemaphorePermit) {
    state.metrics.webcam_connections.inc();
    let mut look: Option<Look> = None;
    let mut waiting: Option<Frame> = None;
    let mut running: Option<(u32, Running)> = None;
    let mut own: Option<StyleEmbedding> = None;
    let mut own_age = 0u32;
    let mut dropped = 0u64;
    loop {
        tokio::select! {
            message = socket.recv() => {
                let reply = match message {
                    Some(Ok(Message::Text(text))) if text.len() > MAX_SETTINGS_BYTES => {
                        serde_json::json!({ "error": format!("webcam settings: over {MAX_SETTINGS_BYTES} bytes") })
                    }
                    Some(Ok(Message::Text(text))) => {
                        match serde_json::from_str::<Settings>(&text)
                            .map_err(|e| ApiError::bad_request(format!("webcam settings: {e}")))
                            .and_then(|s| s.look(&state.pool.predictor_sha256))
                        {
                            Ok(l) => {
                                look = Some(l);
                                serde_json::json!({ "settings": "ok" })
                            }
                            Err(e) => serde_json::json!({ "error": e.message }),
                        }
                    }
                    Some(Ok(Message::Binary(bytes))) => match Frame::parse(bytes, state.max_pixels) {
                        Ok(frame) => {
                            if waiting.replace(frame).is_some() {
                                dropped += 1;
                                state.metrics.webcam_dropped.inc();
                            }
                            serde_json::Value::Null
                        }
                        Err(e) => serde_json::json!({ "error": e.message }),
                    },
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => serde_json::Value::Null, // pings are answered by axum
                };
                if !reply.is_null() && socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                    break;
                }
            }
            (result, started) = async { running.as_mut().expect("guarded").1.as_mut().await }, if running.is_some() => {
                let (seq, _) = running.take().expect("guarded");
                let server_ms = started.elapsed().as_secs_f64() * 1e3;
                let sent = match result {
                    Ok(Done::Frame { bytes, own: o, inference_ms }) => {
                        if o.is_some() && own.is_none() {
                            own_age = 0;
                        }
                        own = o;
                        state.metrics.webcam_frames.inc();
                        let stats = serde_json::json!({
                            "seq": seq,
                            "inference_ms": inference_ms,
                            "server_ms": server_ms,
                            "dropped": dropped,
                        });
                        socket.send(Message::Binary(bytes.into())).await.is_ok()
                            && socket.send(Message::Text(stats.to_string().into())).await.is_ok()
                    }
                    Ok(_) => true,
                    Err(e) => {
                        let error = serde_json::json!({ "error": e.message, "seq": seq });
                        socket.send(Message::Text(error.to_string().into())).await.is_ok()
                    }
                };
                if !sent {
                    break;
                }
            }
        }
        if running.is_none() && waiting.is_some() {
            let Some(current) = look else {
                waiting = None;
                let error = serde_json::json!({
                    "error": "send the settings (a text message with a style) before frames"
                });
                if socket
                    .send(Message::Text(error.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            };
            let frame = waiting.take().expect("checked");
            let seq = frame.seq;
            own_age = own_age.saturating_add(1);
            if own_age >= OWN_EVERY {
                own = None;
            }
            let job = FrameJob {
                frame,
                look: current,
                own,
            };
            let st = state.clone();
            let started = Instant::now();
            running = Some((
                seq,
                Box::pin(async move {
                    let admission = std::sync::Arc::new(st.pool.admit_waiting().await);
                    (st.pool.run(admission, Work::Frame(job)).await, started)
                }),
            ));
        }
    }
    state.metrics.webcam_connections.dec();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Settings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn typed_settings_are_checked_as_the_form_is() {
        let err = settings(r#"{"preset": ["3"], "strength": 1.5}"#)
            .look("unused")
            .unwrap_err();
        assert_eq!(err.message, "strength: 1.5 is outside 0..1");
        let err = settings(r#"{"preset": ["3", "4"], "weights": [1]}"#)
            .look("unused")
            .unwrap_err();
        assert_eq!(
            err.message,
            "weights: 2 styles but 1 weights; give one weight per style"
        );
        let err = settings(r#"{"preset": ["3"], "weights": [0]}"#)
            .look("unused")
            .unwrap_err();
        assert!(err.message.starts_with("weights: "), "{}", err.message);
        let look = settings(r#"{"preset": ["3", "4"], "weights": [1, 3], "strength": 0.5}"#)
            .look("unused")
            .unwrap();
        assert_eq!(look.strength, 0.5);
    }
}
