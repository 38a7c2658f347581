//! The CLI's style language as request fields: `style` (repeated), `preset` (repeated),
//! `weights`, `strength`, `preserve_color`. The HTTP form and the webcam's settings message
//! both land here, so they accept and refuse the same things as `brushwork stylize`: their
//! values go through the library's [`crate::look::values`], as the command line's flags do.

use std::path::Path;

use crate::look::values::{self, ValueError};
use crate::look::{Look, Palette};
use crate::presets::PresetMix;
use crate::style::StyleEmbedding;
use crate::style_file::StyleFile;
use crate::style_source::Builtin;
use axum::body::Bytes;

use super::error::ApiError;

/// The most bytes a text field may hold (a style file's JSON is about 2 KB).
pub const MAX_TEXT_FIELD: usize = 64 << 10;

/// One `style` entry.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "moved once per request; an embedding is 400 bytes"
)]
pub enum StyleInput {
    /// A painting, to embed on a stylizer (its upload name, for errors).
    Painting { bytes: Bytes, name: String },
    /// A style file or a built-in style: the embedding is known.
    Embedding(StyleEmbedding),
}

/// What to paint with, checked but not yet embedded.
#[derive(Debug, Clone)]
pub struct LookSpec {
    pub styles: Vec<StyleInput>,
    pub presets: Vec<PresetMix>,
    pub weights: Vec<f64>,
    pub strength: f32,
    pub preserve_color: bool,
}

/// The fields as they arrive, before checking.
#[derive(Debug, Default)]
pub struct LookFields {
    pub styles: Vec<StyleInput>,
    pub presets: Vec<String>,
    pub weights: Option<String>,
    pub strength: Option<String>,
    pub preserve_color: Option<String>,
}

impl LookFields {
    /// A text `style` value: a style file's JSON (it starts with `{`) or a built-in name.
    pub fn push_style_text(&mut self, text: &str, model_sha256: &str) -> Result<(), ApiError> {
        let embedding = if text.trim_start().starts_with('{') {
            StyleFile::parse(text, Path::new("style"), model_sha256)?.embedding()
        } else {
            let name = text.trim();
            let builtin = Builtin::find(name).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "style: unknown built-in style '{name}' (GET /v1/styles lists them); send a painting or a style file as a file part instead"
                ))
            })?;
            builtin.file(model_sha256)?.embedding()
        };
        self.styles.push(StyleInput::Embedding(embedding));
        Ok(())
    }

    /// A `style` file part: a style file when its name ends in `.style.json` or it is JSON,
    /// otherwise a painting.
    pub fn push_style_file(
        &mut self,
        bytes: Bytes,
        name: &str,
        content_type: Option<&str>,
        model_sha256: &str,
    ) -> Result<(), ApiError> {
        let starts_like_json = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
            == Some(&b'{');
        let json = crate::style_file::is_style_file(Path::new(name))
            || content_type.is_some_and(|t| t.starts_with("application/json"))
            || starts_like_json;
        if json {
            if bytes.len() as u64 > crate::style_file::MAX_FILE_BYTES {
                return Err(ApiError::too_large(format!(
                    "style {name}: a style file is at most {} KB",
                    crate::style_file::MAX_FILE_BYTES / 1024
                )));
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::bad_request(format!("style {name}: not UTF-8 text")))?;
            let text = text.trim_start_matches('\u{feff}');
            let file = StyleFile::parse(text, Path::new(name), model_sha256)?;
            self.styles.push(StyleInput::Embedding(file.embedding()));
        } else {
            self.styles.push(StyleInput::Painting {
                bytes,
                name: name.to_string(),
            });
        }
        Ok(())
    }

    /// How many styles or presets have been given so far.
    pub fn count(&self) -> usize {
        self.styles.len() + self.presets.len()
    }

    /// Checks everything that can be checked without a stylizer.
    pub fn check(self) -> Result<LookSpec, ApiError> {
        let LookFields {
            styles,
            presets,
            weights,
            strength,
            preserve_color,
        } = self;
        LookSpec::check(
            styles,
            &presets,
            || weights.map(|t| values::weights("weights", &t)).transpose(),
            || {
                strength
                    .map(|t| values::strength("strength", &t))
                    .transpose()
            },
            || preserve_color.map_or(Ok(false), |t| parse_bool("preserve_color", &t)),
        )
    }
}

/// `true`/`false`, `1`/`0`, `on`/`off`, `yes`/`no` (an HTML checkbox sends `on`).
pub fn parse_bool(field: &str, text: &str) -> Result<bool, ApiError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{field}: '{text}' is not true or false"
        ))),
    }
}

impl LookSpec {
    /// Checks a look's values, typed or still text, in the order a form's fields are checked
    /// (so that the first problem is the one answered): the styles or presets and their number,
    /// the presets, the weights, the strength, `preserve_color`. Values go through
    /// [`crate::look::values`], as the command line's flags do.
    pub fn check(
        styles: Vec<StyleInput>,
        presets: &[String],
        weights: impl FnOnce() -> Result<Option<Vec<f64>>, ValueError>,
        strength: impl FnOnce() -> Result<Option<f32>, ValueError>,
        preserve_color: impl FnOnce() -> Result<bool, ApiError>,
    ) -> Result<LookSpec, ApiError> {
        let count = styles.len().max(presets.len());
        if !styles.is_empty() && !presets.is_empty() {
            return Err(ApiError::bad_request(
                "give style or preset, not both (the 26 presets are another network)",
            ));
        }
        if count == 0 {
            return Err(ApiError::bad_request(
                "no style: give a style (a painting, a style file or a built-in name) or a preset",
            ));
        }
        values::check_palette_size(count).map_err(ApiError::bad_request)?;
        let presets = values::presets(presets)?;
        let weights = weights()?.unwrap_or_else(|| vec![1.0; count]);
        values::check_weights("weights", &weights, count, "style")?;
        let strength = strength()?.unwrap_or(1.0);
        let preserve_color = preserve_color()?;
        Ok(LookSpec {
            styles,
            presets,
            weights,
            strength,
            preserve_color,
        })
    }

    /// The look, once every painting is embedded by `embed` (called on a stylizer's thread).
    pub fn resolve(
        &self,
        mut embed: impl FnMut(&[u8], &str) -> Result<StyleEmbedding, ApiError>,
    ) -> Result<Look, ApiError> {
        let palette = if self.presets.is_empty() {
            let mut embeddings = Vec::with_capacity(self.styles.len());
            for s in &self.styles {
                embeddings.push(match s {
                    StyleInput::Embedding(e) => *e,
                    StyleInput::Painting { bytes, name } => embed(bytes, name)?,
                });
            }
            Palette::Styles(embeddings)
        } else {
            Palette::Presets(self.presets.clone())
        };
        let paint = palette
            .blend(&self.weights)
            .map_err(|e| ValueError::new("weights", e))?;
        Ok(Look::new(paint)
            .with_strength(self.strength)?
            .with_preserve_color(self.preserve_color))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "not-checked-for-builtins";

    fn fields() -> LookFields {
        LookFields::default()
    }

    #[test]
    fn the_form_means_what_the_cli_means() {
        let mut f = fields();
        f.presets = vec!["3:0.5,12:0.5".into(), "7".into()];
        f.weights = Some("1, 3".into());
        f.strength = Some("0.25".into());
        f.preserve_color = Some("on".into());
        let spec = f.check().unwrap();
        assert_eq!(spec.weights, vec![1.0, 3.0]);
        assert_eq!(spec.strength, 0.25);
        assert!(spec.preserve_color);
        let look = spec.resolve(|_, _| unreachable!()).unwrap();
        assert_eq!(look.strength, 0.25);
    }

    #[test]
    fn bad_fields_say_which_field() {
        let cases: Vec<(LookFields, &str)> = vec![
            (fields(), "no style"),
            (
                LookFields {
                    presets: vec!["3".into()],
                    weights: Some("1,2".into()),
                    ..fields()
                },
                "1 styles but 2 weights",
            ),
            (
                LookFields {
                    presets: vec!["3".into()],
                    weights: Some("x".into()),
                    ..fields()
                },
                "weights: 'x' is not a number",
            ),
            (
                LookFields {
                    presets: vec!["3".into()],
                    weights: Some("0".into()),
                    ..fields()
                },
                "all weights are zero",
            ),
            (
                LookFields {
                    presets: vec!["3".into()],
                    strength: Some("1.5".into()),
                    ..fields()
                },
                "strength: 1.5 is outside 0..1",
            ),
            (
                LookFields {
                    presets: vec!["30".into()],
                    ..fields()
                },
                "preset 30 does not exist",
            ),
            (
                LookFields {
                    presets: vec!["3".into()],
                    preserve_color: Some("maybe".into()),
                    ..fields()
                },
                "preserve_color: 'maybe'",
            ),
            (
                LookFields {
                    presets: (0..10).map(|i| i.to_string()).collect(),
                    ..fields()
                },
                "at most 9",
            ),
        ];
        for (f, want) in cases {
            let err = f.check().unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(want), "{} lacks {want}", err.message);
        }
        let mut f = fields();
        let err = f.push_style_text("no-such-style", SHA).unwrap_err();
        assert!(err
            .message
            .contains("unknown built-in style 'no-such-style'"));
        let err = f.push_style_text("{\"format\": 1}", SHA).unwrap_err();
        assert_eq!(err.status, 400);
    }
}
