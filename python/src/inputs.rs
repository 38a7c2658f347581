//! What `brushwork/__init__.py` hands over: pictures (a path or raw 8-bit pixels) and style
//! items (a `--style` spec, a vector, or a painting), and style vectors as bytes.

use std::path::{Path, PathBuf};

use brushwork::images;
use brushwork::style::{StyleEmbedding, EMBEDDING_DIM};
use brushwork::style_source::StyleSource;
use brushwork::Stylizer;
use image::{DynamicImage, RgbImage, RgbaImage};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::failure::Failure;

/// A picture as `brushwork/__init__.py` hands it over.
pub(crate) enum Picture {
    /// A file, read as the command line reads it (EXIF orientation, alpha onto white).
    Path(PathBuf),
    /// Raw 8-bit RGB or RGBA, row by row.
    Pixels {
        data: Vec<u8>,
        width: u32,
        height: u32,
        channels: u8,
    },
}

impl Picture {
    /// `("path", PATH)` or `("pixels", BYTES, WIDTH, HEIGHT, CHANNELS)`.
    pub(crate) fn extract(obj: &Bound<'_, PyAny>) -> PyResult<Picture> {
        let tag: String = obj.get_item(0)?.extract()?;
        match tag.as_str() {
            "path" => Ok(Picture::Path(obj.get_item(1)?.extract()?)),
            "pixels" => {
                let (_, bytes, width, height, channels): (
                    String,
                    Bound<'_, PyBytes>,
                    u32,
                    u32,
                    u8,
                ) = obj.extract()?;
                let data = bytes.as_bytes();
                let expected = u64::from(width) * u64::from(height) * u64::from(channels);
                if !matches!(channels, 3 | 4) || data.len() as u64 != expected {
                    return Err(Failure::engine(format!(
                        "brushwork._native: {width}x{height}x{channels} pixels in {} bytes",
                        data.len()
                    ))
                    .into());
                }
                Ok(Picture::Pixels {
                    data: data.to_vec(),
                    width,
                    height,
                    channels,
                })
            }
            other => {
                Err(Failure::engine(format!("brushwork._native: unknown picture '{other}'")).into())
            }
        }
    }

    /// The picture as 8-bit RGB; transparency is flattened onto white as the command line
    /// does (`brushwork::images::to_rgb_on_white`).
    pub(crate) fn into_rgb(self) -> Result<RgbImage, Failure> {
        match self {
            Picture::Path(p) => Ok(images::load_rgb(&p)?),
            Picture::Pixels {
                data,
                width,
                height,
                channels: 3,
            } => Ok(RgbImage::from_raw(width, height, data).expect("size checked")),
            Picture::Pixels {
                data,
                width,
                height,
                ..
            } => Ok(images::to_rgb_on_white(DynamicImage::ImageRgba8(
                RgbaImage::from_raw(width, height, data).expect("size checked"),
            ))),
        }
    }

    /// The path, for the command line's `PATH: ` before a failure to paint it.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Picture::Path(p) => Some(p),
            Picture::Pixels { .. } => None,
        }
    }
}

/// One style of a look: a `--style` spec (painting file, style file, built-in name), a painting
/// in memory, or a known embedding.
#[expect(
    clippy::large_enum_variant,
    reason = "at most 9 per call, built once; an embedding is 400 bytes"
)]
pub(crate) enum StyleItem {
    Source(StyleSource),
    Painting(Picture),
    Embedding(StyleEmbedding),
}

impl StyleItem {
    /// `("spec", TEXT)`, `("vector", BYTES)` or a picture's tuple (see [`Picture::extract`]).
    pub(crate) fn extract(obj: &Bound<'_, PyAny>) -> PyResult<StyleItem> {
        let tag: String = obj.get_item(0)?.extract()?;
        match tag.as_str() {
            "spec" => {
                let spec: String = obj.get_item(1)?.extract()?;
                Ok(StyleItem::Source(
                    StyleSource::parse(&spec).map_err(Failure::from)?,
                ))
            }
            "vector" => {
                let bytes = obj.get_item(1)?;
                Ok(StyleItem::Embedding(embedding_of(
                    bytes.cast::<PyBytes>()?.as_bytes(),
                )?))
            }
            _ => Ok(StyleItem::Painting(Picture::extract(obj)?)),
        }
    }

    pub(crate) fn resolve(self, stylizer: &mut Stylizer) -> Result<StyleEmbedding, Failure> {
        Ok(match self {
            StyleItem::Source(s) => s.resolve(stylizer)?,
            StyleItem::Painting(p) => stylizer.embed(&p.into_rgb()?)?,
            StyleItem::Embedding(e) => e,
        })
    }
}

/// 400 little-endian bytes as an embedding.
pub(crate) fn embedding_of(bytes: &[u8]) -> Result<StyleEmbedding, Failure> {
    if bytes.len() != EMBEDDING_DIM * 4 {
        return Err(Failure::user(format!(
            "a style vector has {EMBEDDING_DIM} numbers, not {}",
            bytes.len() / 4
        )));
    }
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(StyleEmbedding::from_slice(&values).expect("length checked"))
}

/// An embedding as 400 little-endian bytes.
pub(crate) fn bytes_of<'py>(py: Python<'py>, e: &StyleEmbedding) -> Bound<'py, PyBytes> {
    let raw: Vec<u8> = e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
    PyBytes::new(py, &raw)
}
