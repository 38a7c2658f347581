//! Where a style comes from: a painting, a `.style.json` file, or a built-in name, and the
//! built-in style library itself.

use std::path::{Path, PathBuf};

use crate::images::{self, ImageError};
use crate::style::StyleEmbedding;
use crate::style_file::{self, StyleFile, StyleFileError};
use crate::stylizer::{StylizeError, Stylizer};

/// A built-in style: an embedding file made by `brushwork embed` from a painting in
/// `examples/styles/` (see `styles/README.md`), compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    pub credit: &'static str,
    json: &'static str,
}

macro_rules! builtin {
    ($name:literal, $credit:literal) => {
        Builtin {
            name: $name,
            credit: $credit,
            json: include_str!(concat!("../styles/", $name, ".style.json")),
        }
    };
}

/// The built-in styles, by name.
pub const BUILTINS: &[Builtin] = &[
    builtin!("towers", "Max Ernst, \"Towers\" (1916), via wikiart"),
    builtin!(
        "clouds-over-bor",
        "Paul Klee, \"Clouds over Bor\" (1940), via wikiart"
    ),
    builtin!(
        "black-zigzag",
        "pixabay, black-white-chevron-striped-2780587"
    ),
    builtin!("red-texture", "pixabay, background-texture-pattern-2462491"),
    builtin!("bricks", "pixabay, bricks-diagonal-chevron-tiles-1448260"),
    builtin!("zigzag-colorful", "publicdomainpictures.net, image 100795"),
];

impl Builtin {
    pub fn find(name: &str) -> Option<&'static Builtin> {
        BUILTINS.iter().find(|b| b.name == name)
    }

    /// The style file, checked against the style model in use.
    pub fn file(&self, model_sha256: &str) -> Result<StyleFile, StyleFileError> {
        StyleFile::parse(self.json, Path::new(self.name), model_sha256)
    }
}

/// Errors resolving a style.
#[derive(Debug, thiserror::Error)]
pub enum StyleSourceError {
    #[error("unknown style '{0}': no such file, and no built-in style of that name (brushwork styles lists them)")]
    Unknown(String),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    File(#[from] StyleFileError),
    #[error(transparent)]
    Stylize(#[from] StylizeError),
}

impl StyleSourceError {
    /// Whether the user can fix it (see the wrapped errors).
    pub fn is_user_error(&self) -> bool {
        match self {
            StyleSourceError::Unknown(_) | StyleSourceError::File(_) => true,
            StyleSourceError::Image(e) => e.is_user_error(),
            StyleSourceError::Stylize(e) => e.is_user_error(),
        }
    }
}

/// One `--style` argument.
#[derive(Debug, Clone, PartialEq)]
pub enum StyleSource {
    /// A painting to embed.
    Image(PathBuf),
    /// A saved embedding.
    File(PathBuf),
    /// A built-in style.
    Builtin(&'static str),
}

impl StyleSource {
    /// `*.style.json` (or any `*.json`: no painting is JSON) is a style file; an existing file
    /// is a painting; a built-in name is a built-in style; anything else that looks like a path
    /// is a (missing) painting.
    pub fn parse(spec: &str) -> Result<Self, StyleSourceError> {
        let path = Path::new(spec);
        let json = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().ends_with(".json"));
        if json {
            return Ok(StyleSource::File(path.into()));
        }
        if path.exists() {
            return Ok(StyleSource::Image(path.into()));
        }
        if let Some(b) = Builtin::find(spec) {
            return Ok(StyleSource::Builtin(b.name));
        }
        if path.extension().is_some() || spec.contains(std::path::MAIN_SEPARATOR) {
            return Ok(StyleSource::Image(path.into()));
        }
        Err(StyleSourceError::Unknown(spec.into()))
    }

    /// A short name for labels: the built-in name or the file stem.
    pub fn label(&self) -> String {
        match self {
            StyleSource::Builtin(name) => (*name).to_string(),
            StyleSource::Image(p) | StyleSource::File(p) => {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("style");
                name.strip_suffix(style_file::SUFFIX)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        p.file_stem()
                            .and_then(|s| s.to_str())
                            .unwrap_or("style")
                            .to_string()
                    })
            }
        }
    }

    /// The style's embedding: painting embedded by `stylizer`, file or built-in read and checked
    /// against `stylizer`'s style model.
    pub fn resolve(&self, stylizer: &mut Stylizer) -> Result<StyleEmbedding, StyleSourceError> {
        Ok(self.resolve_labelled(stylizer)?.0)
    }

    /// [`resolve`](Self::resolve), with the style's label: a style file's recorded name (the
    /// `--name` given to `brushwork embed`) where it is a valid name, else [`label`](Self::label).
    pub fn resolve_labelled(
        &self,
        stylizer: &mut Stylizer,
    ) -> Result<(StyleEmbedding, String), StyleSourceError> {
        Ok(match self {
            StyleSource::Image(p) => (stylizer.embed(&images::load_rgb(p)?)?, self.label()),
            StyleSource::File(p) => {
                let file = StyleFile::read(p, stylizer.predictor_sha256())?;
                // Files made before `embed` named a style after its file recorded the
                // painting's name: two files of one painting keep labels of their own.
                let painting = Path::new(&file.source).file_stem();
                let named = style_file::check_name(&file.name).is_ok()
                    && painting.is_none_or(|stem| stem.to_string_lossy() != file.name);
                let label = if named {
                    file.name.clone()
                } else {
                    self.label()
                };
                (file.embedding(), label)
            }
            StyleSource::Builtin(name) => (
                Builtin::find(name)
                    .expect("parsed from the table")
                    .file(stylizer.predictor_sha256())?
                    .embedding(),
                self.label(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_told_apart() {
        assert_eq!(
            StyleSource::parse("a/b.style.json").unwrap(),
            StyleSource::File("a/b.style.json".into())
        );
        assert_eq!(
            StyleSource::parse("towers").unwrap(),
            StyleSource::Builtin("towers")
        );
        assert_eq!(
            StyleSource::parse("missing.jpg").unwrap(),
            StyleSource::Image("missing.jpg".into())
        );
        assert!(StyleSource::parse("no-such-style")
            .unwrap_err()
            .to_string()
            .contains("unknown style 'no-such-style'"));
    }

    #[test]
    fn labels_are_short_names() {
        assert_eq!(
            StyleSource::parse("x/waves.style.json").unwrap().label(),
            "waves"
        );
        assert_eq!(StyleSource::parse("x/monet.jpg").unwrap().label(), "monet");
        assert_eq!(StyleSource::parse("bricks").unwrap().label(), "bricks");
    }
}
