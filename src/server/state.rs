//! What every handler shares: the state of the service, and how a picture format is named
//! on the wire.

use std::sync::Arc;
use std::time::Duration;

use image::ImageFormat;

use super::metrics::Metrics;
use super::pool::Pool;

/// What every handler shares.
pub struct AppState {
    pub pool: Pool,
    pub metrics: Arc<Metrics>,
    pub token: Option<String>,
    pub timeout: Duration,
    pub max_upload: u64,
    pub max_pixels: u64,
    pub webcams: Arc<tokio::sync::Semaphore>,
    /// Listening on a loopback address: only loopback host names are served.
    pub loopback: bool,
    /// The port listened on: a loopback Host must name it.
    pub port: u16,
}

pub type Shared = Arc<AppState>;

/// The Content-Type of an answer in `format`.
pub fn content_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "image/png",
        ImageFormat::Jpeg => "image/jpeg",
        _ => "image/webp",
    }
}
