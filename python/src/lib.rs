//! `brushwork._native`: the compiled half of the Python package, a thin layer over the
//! brushwork library.
//!
//! It takes and returns plain values (paths, raw RGB bytes with their size, style vectors as
//! 400 little-endian bytes); `brushwork/__init__.py` turns NumPy arrays, PIL images and
//! `Style` objects into them and back. Everything a picture costs runs with the GIL released,
//! on one of a pool of library stylizers (see [`Pool`]); every error is one of the package's
//! exceptions (`InputError` when the library says the user can fix it, `EngineError`
//! otherwise) with the message the command line prints, and no panic reaches Python.

mod failure;
mod inputs;
mod pool;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use brushwork::look::values::{self, ValueError};
use brushwork::look::{Look, Palette};
use brushwork::models::{ModelSet, Precision};
use brushwork::style::{StyleEmbedding, EMBEDDING_DIM};
use brushwork::style_file::StyleFile;
use brushwork::style_source::{Builtin, StyleSourceError, BUILTINS};
use brushwork::{Device, Stylizer, StylizerOptions};
use image::RgbImage;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};

use failure::Failure;
use inputs::{bytes_of, embedding_of, Picture, StyleItem};
use pool::Pool;

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
