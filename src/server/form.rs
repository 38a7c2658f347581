//! The multipart form of `/v1/stylize` and `/v1/embed`: reading its fields (each known,
//! most at most once, text within a size), the answers to a form that cannot be read, and the
//! number fields' checks. The look's fields are checked in [`super::look_spec`].

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::Multipart;
use axum::http::StatusCode;

use super::error::ApiError;
use super::look_spec::{LookFields, MAX_TEXT_FIELD};

/// The fields of `/v1/stylize` and `/v1/embed`.
#[derive(Default)]
pub(super) struct Form {
    pub(super) image: Option<(Bytes, String)>,
    pub(super) look: LookFields,
    pub(super) max_size: Option<String>,
    pub(super) format: Option<String>,
    pub(super) quality: Option<String>,
    pub(super) name: Option<String>,
}

pub(super) fn multipart_error(e: MultipartError) -> ApiError {
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

pub(super) fn rejected(e: MultipartRejection) -> ApiError {
    ApiError::new(
        e.status(),
        format!("send a multipart/form-data request ({})", e.body_text()),
    )
}

/// Reads what is left of a refused request's body (within the body limit and a few seconds),
/// so that the client gets the answer instead of a connection reset mid-upload.
pub(super) async fn drain(multipart: &mut Multipart) {
    let rest = async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), rest).await;
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
pub(super) async fn read_form(
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
pub(super) fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
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
