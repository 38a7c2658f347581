//! Integration tests: the real `brushwork` binary on real pictures, checked against golden
//! outputs from Python onnxruntime (`python-export/export.py`), plus every bad-input case. One
//! test binary (as ripgrep has), one module per feature, or per theme of a large one (`serve_*`,
//! `hardening_*`, `live_window`, ...: their names keep the feature's prefix, so `-- serve` still
//! selects them all); `util` holds what they share.

mod util;

mod devices;
mod devices_fetch;
mod hardening;
mod hardening_files;
mod hardening_pictures;
mod hardening_signals;
mod library;
mod live;
mod live_window;
mod presets;
mod runtime;
mod serve;
mod serve_browser;
mod serve_hardening;
mod serve_limits;
mod serve_page;
mod serve_soak;
mod serve_webcam;
mod style_language;
mod style_space;
mod style_space_errors;
mod stylize;
mod tiling;
mod video;
