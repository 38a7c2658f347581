//! Integration tests: the real `brushwork` binary on real pictures, checked against golden
//! outputs from Python onnxruntime (`python-export/export.py`), plus every bad-input case. One
//! test binary (as ripgrep has), one module per feature; `util` holds what they share.

mod util;

mod devices;
mod hardening;
mod library;
mod live;
mod presets;
mod runtime;
mod serve;
mod serve_hardening;
mod style_language;
mod style_space;
mod stylize;
mod tiling;
mod video;
