//! Video files, through the `ffmpeg` and `ffprobe` commands: [`probe`] once, decode with
//! [`VideoFile`] (a [`FrameSource`](crate::sources::FrameSource)), and write with an
//! [`Encoder`] that owns its temporary file: the result appears only when it is complete.

mod decoder;
mod encoder;
mod probe;

use std::path::PathBuf;

pub use decoder::{Looping, Pacing, VideoFile};
pub use encoder::{Encoder, EncoderSettings};
pub use probe::{probe, VideoInfo};

/// Problems reading or writing a video.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("{what} needs the ffmpeg command (Debian: apt-get install ffmpeg): {reason}")]
    NoFfmpeg { what: String, reason: String },
    #[error("{}: cannot read video: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: cannot write video: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

impl VideoError {
    /// A bad or unwritable file is the user's to fix; a missing ffmpeg is the machine's.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, VideoError::NoFfmpeg { .. })
    }
}
