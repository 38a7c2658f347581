//! `brushwork._native`: the compiled half of the Python package, a thin layer over the
//! brushwork library.
//!
//! It takes and returns plain values (paths, raw RGB bytes with their size, style vectors as
//! 400 little-endian bytes); `brushwork/__init__.py` turns NumPy arrays, PIL images and
//! `Style` objects into them and back. Everything a picture costs runs with the GIL released,
//! on one of a pool of library stylizers (see [`Pool`]); every error is one of the package's
//! exceptions (`InputError` when the library says the user can fix it, `EngineError`
//! otherwise) with the message the command line prints, and no panic reaches Python.

mod pool;

use std::error::Error as StdError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use brushwork::images::{self, ImageError};
use brushwork::look::values::{self, ValueError};
use brushwork::look::{Look, Palette};
use brushwork::models::{ModelSet, Precision};
use brushwork::presets::PresetError;
use brushwork::style::{BlendError, StyleEmbedding, EMBEDDING_DIM};
use brushwork::style_file::{StyleFile, StyleFileError};
use brushwork::style_source::{Builtin, StyleSource, StyleSourceError, BUILTINS};
use brushwork::{Device, StylizeError, Stylizer, StylizerOptions};
use image::{DynamicImage, RgbImage, RgbaImage};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use pool::Pool;

/// An error on its way to Python: its one-line message (the command line's, after
/// `brushwork: error: `) and whether the user can fix it.
#[derive(Debug)]
struct Failure {
    user: bool,
    message: String,
}

impl Failure {
    fn user(message: impl Into<String>) -> Failure {
        Failure {
            user: true,
            message: message.into(),
        }
    }

    fn engine(message: impl Into<String>) -> Failure {
        Failure {
            user: false,
            message: message.into(),
        }
    }

    /// A library error, with its causes on one line, as the command line prints it.
    fn of(err: &(dyn StdError + 'static), user: bool) -> Failure {
        Failure {
            user,
            message: one_line(err),
        }
    }

    /// The message behind `prefix: ` (the command line's context), once.
    fn within(mut self, prefix: &str) -> Failure {
        if !self.message.starts_with(prefix) {
            self.message = format!("{prefix}: {}", self.message);
        }
        self
    }

    /// A panic caught on its way out: a bug of brushwork's, never the user's.
    fn panic(payload: Box<dyn std::any::Any + Send>) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Failure::engine(format!(
            "internal error in brushwork (please report it): {what}"
        ))
    }
}

/// The error and its causes on one line, each cause once (the command line's `one_line`).
fn one_line(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let s = e.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cause = e.source();
    }
    parts.join(": ")
}

/// Each library error says whether it is the user's to fix; the command line's exit status 2
/// is `InputError` here, its 1 `EngineError`.
macro_rules! failure_from {
    ($($t:ty => |$e:ident| $user:expr),* $(,)?) => {$(
        impl From<$t> for Failure {
            fn from($e: $t) -> Failure {
                let user = $user;
                Failure::of(&$e, user)
            }
        }
    )*};
}

failure_from! {
    StylizeError => |e| e.is_user_error(),
    StyleSourceError => |e| e.is_user_error(),
    ImageError => |e| e.is_user_error(),
    StyleFileError => |_e| true,
    BlendError => |_e| true,
    PresetError => |_e| true,
    ValueError => |_e| true,
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        let class = if f.user { "InputError" } else { "EngineError" };
        Python::attach(|py| {
            match py
                .import("brushwork._errors")
                .and_then(|m| m.getattr(class))
                .and_then(|c| c.call1((f.message.clone(),)))
            {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        })
    }
}

/// A picture as `brushwork/__init__.py` hands it over.
enum Picture {
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
    fn extract(obj: &Bound<'_, PyAny>) -> PyResult<Picture> {
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
    fn into_rgb(self) -> Result<RgbImage, Failure> {
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
    fn path(&self) -> Option<&Path> {
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
enum StyleItem {
    Source(StyleSource),
    Painting(Picture),
    Embedding(StyleEmbedding),
}

impl StyleItem {
    /// `("spec", TEXT)`, `("vector", BYTES)` or a picture's tuple (see [`Picture::extract`]).
    fn extract(obj: &Bound<'_, PyAny>) -> PyResult<StyleItem> {
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

    fn resolve(self, stylizer: &mut Stylizer) -> Result<StyleEmbedding, Failure> {
        Ok(match self {
            StyleItem::Source(s) => s.resolve(stylizer)?,
            StyleItem::Painting(p) => stylizer.embed(&p.into_rgb()?)?,
            StyleItem::Embedding(e) => e,
        })
    }
}

/// 400 little-endian bytes as an embedding.
fn embedding_of(bytes: &[u8]) -> Result<StyleEmbedding, Failure> {
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
fn bytes_of<'py>(py: Python<'py>, e: &StyleEmbedding) -> Bound<'py, PyBytes> {
    let raw: Vec<u8> = e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
    PyBytes::new(py, &raw)
}

/// sha256 of the built-in style-prediction network: what style files record.
fn predictor_sha256_of_embedded() -> &'static str {
    static SHA: OnceLock<String> = OnceLock::new();
    SHA.get_or_init(|| ModelSet::embedded().predict.sha256())
}

/// The networks on one engine, shared by Python threads through a pool of library
/// stylizers. Built by `brushwork.Stylizer`, whose docstring says what the arguments mean.
#[pyclass(frozen, module = "brushwork._native")]
struct Engine {
    pool: Pool,
    device: String,
    precision: String,
    engine: String,
}

#[pymethods]
impl Engine {
    /// Starts the first stylizer (the others start on demand, up to `workers`).
    #[new]
    #[pyo3(signature = (device, precision, threads, memory_budget, tile_size, workers))]
    fn new(
        py: Python<'_>,
        device: &str,
        precision: &str,
        threads: Option<usize>,
        memory_budget: Option<u64>,
        tile_size: u32,
        workers: usize,
    ) -> PyResult<Self> {
        let device: Device = device.parse().map_err(Failure::user)?;
        let precision: Option<Precision> = match precision {
            "auto" => None,
            p => Some(p.parse().map_err(Failure::user)?),
        };
        let options = StylizerOptions {
            threads,
            device,
            precision,
            memory_budget,
            tile_side: tile_size,
            ..StylizerOptions::default()
        };
        let (pool, device, precision, engine) = py.detach(|| {
            let first = start(options.clone())?;
            let (device, precision, engine) = (first.device(), first.precision(), first.engine());
            // Every later stylizer runs where the first one settled, so that every worker
            // paints the same pixels.
            let options = StylizerOptions {
                device,
                precision: Some(precision),
                ..options
            };
            Ok::<_, Failure>((
                Pool::new(first, options, workers.max(1)),
                device.to_string(),
                precision.to_string(),
                engine,
            ))
        })?;
        Ok(Engine {
            pool,
            device,
            precision,
            engine,
        })
    }

    /// The device the transformation network runs on (what `auto` resolved to).
    #[getter]
    fn device(&self) -> &str {
        &self.device
    }

    /// The transformation network's variant (what `auto` resolved to).
    #[getter]
    fn precision(&self) -> &str {
        &self.precision
    }

    /// The engine and its version, e.g. `ONNX Runtime 1.31.1`.
    #[getter]
    fn engine(&self) -> &str {
        &self.engine
    }

    /// The most stylizers this engine runs at once.
    #[getter]
    fn workers(&self) -> usize {
        self.pool.limit()
    }

    /// Stylizes a picture: returns `(RGB bytes, width, height, seconds in the library)`.
    /// The values are checked in the command line's order, with its messages (named as the
    /// Python keywords are: `weights`, `strength`).
    #[pyo3(signature = (image, styles, presets, weights, strength, preserve_color))]
    #[allow(clippy::too_many_arguments)]
    fn stylize<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
        styles: Vec<Bound<'py, PyAny>>,
        presets: Vec<String>,
        weights: Option<Vec<f64>>,
        strength: f32,
        preserve_color: bool,
    ) -> PyResult<(Bound<'py, PyByteArray>, u32, u32, f64)> {
        if !styles.is_empty() && !presets.is_empty() {
            return Err(Failure::user(
                "give style or preset, not both (the 26 presets are another network)",
            )
            .into());
        }
        let count = styles.len().max(presets.len());
        if count == 0 {
            return Err(Failure::user(
                "no style: give a style (a painting, a style file or a built-in name) or a preset",
            )
            .into());
        }
        values::check_palette_size(count).map_err(Failure::user)?;
        let mixes = values::presets(&presets).map_err(Failure::from)?;
        let per = if presets.is_empty() {
            "style"
        } else {
            "preset"
        };
        let weights = weights.unwrap_or_else(|| vec![1.0; count]);
        values::check_weights("weights", &weights, count, per).map_err(Failure::from)?;
        values::check_strength("strength", strength).map_err(Failure::from)?;
        let items = styles
            .iter()
            .map(StyleItem::extract)
            .collect::<PyResult<Vec<_>>>()?;
        let picture = Picture::extract(image)?;

        let (out, seconds) = py.detach(|| {
            self.pool.run(|stylizer| {
                let t = Instant::now();
                let palette = if mixes.is_empty() {
                    let mut embeddings = Vec::with_capacity(items.len());
                    for item in items {
                        embeddings.push(item.resolve(stylizer)?);
                    }
                    Palette::Styles(embeddings)
                } else {
                    Palette::Presets(mixes)
                };
                let paint = palette
                    .blend(&weights)
                    .map_err(|e| ValueError::new("weights", e))?;
                let look = Look::new(paint)
                    .with_strength(strength)?
                    .with_preserve_color(preserve_color);
                let path = picture.path().map(|p| p.display().to_string());
                let photo = picture.into_rgb()?;
                let mut out = RgbImage::new(photo.width(), photo.height());
                stylizer
                    .paint_into(&photo, &look, None, &mut out)
                    .map_err(|e| match &path {
                        Some(p) => Failure::from(e).within(p),
                        None => Failure::from(e),
                    })?;
                Ok((out, t.elapsed().as_secs_f64()))
            })
        })?;
        let (width, height) = out.dimensions();
        Ok((PyByteArray::new(py, out.as_raw()), width, height, seconds))
    }

    /// A painting's style embedding: `(400 bytes, seconds in the library)`.
    fn embed<'py>(
        &self,
        py: Python<'py>,
        painting: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, f64)> {
        let picture = Picture::extract(painting)?;
        let (embedding, seconds) = py.detach(|| {
            self.pool.run(|stylizer| {
                let t = Instant::now();
                let painting = picture.into_rgb()?;
                let embedding = stylizer.embed(&painting)?;
                Ok((embedding, t.elapsed().as_secs_f64()))
            })
        })?;
        Ok((bytes_of(py, &embedding), seconds))
    }

    /// For the tests: a panic on a worker, which must come back as `EngineError` and leave
    /// the pool usable (the worker is dropped; a new one starts on the next call).
    fn _panic_on_a_worker(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            self.pool
                .run(|_| -> Result<(), Failure> { panic!("a panic the tests asked for") })
        })?;
        Ok(())
    }
}

/// A library stylizer, started as `brushwork stylize` starts one.
fn start(options: StylizerOptions) -> Result<Stylizer, Failure> {
    match catch_unwind(AssertUnwindSafe(|| Stylizer::new(options))) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(Failure::from(e).within("cannot start the stylizer")),
        Err(payload) => Err(Failure::panic(payload)),
    }
}

/// sha256 of the built-in style-prediction network, which style files record.
#[pyfunction]
fn predictor_sha256() -> &'static str {
    predictor_sha256_of_embedded()
}

/// Reads a style file as `brushwork stylize --style FILE` does: `(vector bytes, name, source)`.
#[pyfunction]
fn read_style<'py>(
    py: Python<'py>,
    path: PathBuf,
) -> PyResult<(Bound<'py, PyBytes>, String, String)> {
    let file = StyleFile::read(&path, predictor_sha256_of_embedded()).map_err(Failure::from)?;
    Ok((bytes_of(py, &file.embedding()), file.name, file.source))
}

/// Writes a style file as `brushwork embed -o` does (atomically, the same bytes).
#[pyfunction]
fn write_style(path: PathBuf, name: &str, source: &str, vector: &[u8]) -> PyResult<()> {
    brushwork::style_file::check_name(name).map_err(|why| Failure::user(format!("name: {why}")))?;
    let embedding = embedding_of(vector)?;
    StyleFile::new(name, source, predictor_sha256_of_embedded(), &embedding)
        .write(&path)
        .map_err(Failure::from)?;
    Ok(())
}

/// Blends style vectors as `--style A --style B --weights ...` does.
#[pyfunction]
fn blend_styles<'py>(
    py: Python<'py>,
    vectors: Vec<Bound<'py, PyBytes>>,
    weights: Vec<f64>,
) -> PyResult<Bound<'py, PyBytes>> {
    values::check_palette_size(vectors.len()).map_err(Failure::user)?;
    values::check_weights("weights", &weights, vectors.len(), "style").map_err(Failure::from)?;
    let embeddings = vectors
        .iter()
        .map(|v| embedding_of(v.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let blended = StyleEmbedding::blend(&embeddings, &weights).map_err(Failure::from)?;
    Ok(bytes_of(py, &blended))
}

/// A built-in style as `--style NAME` reads it: `(vector bytes, name, source, credit)`.
#[pyfunction]
fn builtin_style<'py>(
    py: Python<'py>,
    name: &str,
) -> PyResult<(Bound<'py, PyBytes>, String, String, &'static str)> {
    let builtin = Builtin::find(name)
        .ok_or_else(|| Failure::from(StyleSourceError::Unknown(name.to_string())))?;
    let file = builtin
        .file(predictor_sha256_of_embedded())
        .map_err(Failure::from)?;
    Ok((
        bytes_of(py, &file.embedding()),
        file.name,
        file.source,
        builtin.credit,
    ))
}

/// What is wrong with a style name (it becomes a file name), or `None`: the library's rule.
#[pyfunction]
fn style_name_problem(name: &str) -> Option<String> {
    brushwork::style_file::check_name(name).err()
}

/// The built-in styles' names, as `brushwork styles` lists them.
#[pyfunction]
fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(predictor_sha256, m)?)?;
    m.add_function(wrap_pyfunction!(read_style, m)?)?;
    m.add_function(wrap_pyfunction!(write_style, m)?)?;
    m.add_function(wrap_pyfunction!(blend_styles, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_style, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_names, m)?)?;
    m.add_function(wrap_pyfunction!(style_name_problem, m)?)?;
    m.add("MIN_CONTENT_SIDE", brushwork::MIN_CONTENT_SIDE)?;
    m.add("MIN_MEMORY_BUDGET", brushwork::MIN_MEMORY_BUDGET)?;
    m.add("DEFAULT_TILE_SIDE", brushwork::DEFAULT_TILE_SIDE)?;
    m.add("EMBEDDING_DIM", EMBEDDING_DIM)?;
    m.add("NUM_PRESETS", brushwork::presets::NUM_PRESETS)?;
    m.add("MAX_PALETTE", brushwork::look::MAX_PALETTE)?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
