//! Where frames come from: a camera, a video file (see [`crate::video`]), a directory of
//! images, or a synthetic test pattern. Each is a [`FrameSource`]; [`open`] picks one from a
//! command-line spec.

mod camera;
mod image_dir;
mod pattern;

pub use image_dir::ImageSequence;
pub use pattern::{Pattern, PatternKind};

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::video::{Looping, Pacing, VideoError, VideoFile};

/// Problems opening or reading a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source '{0}': use camera, camera:N, pattern, pattern:still, pattern:pan, pattern:object, a picture, a video file or a directory of images")]
    Unknown(String),
    #[error("this brushwork was built without camera support; rebuild with `cargo build --release --features camera` (needs libclang), or use a video file or pattern")]
    NoCameraSupport,
    #[error("camera {index}: {reason}")]
    Camera { index: u32, reason: String },
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error("{}: no images in this directory", .0.display())]
    NoImages(PathBuf),
    #[error(transparent)]
    Image(#[from] crate::images::ImageError),
}

impl SourceError {
    /// Whether the user can fix it (a bad spec, file or picture) rather than the machine (no
    /// camera, no ffmpeg).
    pub fn is_user_error(&self) -> bool {
        match self {
            SourceError::Unknown(_) | SourceError::NoImages(_) => true,
            SourceError::Image(e) => e.is_user_error(),
            SourceError::Video(e) => e.is_user_error(),
            SourceError::NoCameraSupport | SourceError::Camera { .. } => false,
        }
    }
}

/// Whether a file is a still picture (by its extension; animated GIFs play as videos).
fn is_picture(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .and_then(image::ImageFormat::from_extension)
        .is_some_and(|f| f != image::ImageFormat::Gif)
}

/// A stream of frames, all of the same size.
pub trait FrameSource: Send {
    /// Frame size, width × height.
    fn size(&self) -> (u32, u32);
    /// Frames per second the source delivers at, if it has a natural rate.
    fn fps(&self) -> Option<f64>;
    /// Fills `frame` (already `size()`) with the next frame; `Ok(false)` at the end.
    fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError>;
    /// A one-line description.
    fn describe(&self) -> String;
    /// A single still picture: the pipeline takes it once and paints it again only when what
    /// is painted changes.
    fn is_still(&self) -> bool {
        false
    }
}

/// Opens a source from its command-line spec. `repeat` loops video files and image directories.
pub fn open(
    spec: &str,
    size: Option<(u32, u32)>,
    repeat: bool,
) -> Result<Box<dyn FrameSource>, SourceError> {
    // A file or directory that exists wins over the keywords: `camera_roll.mp4` is a video.
    let path = Path::new(spec);
    if path.is_dir() {
        let mut seq = ImageSequence::open(path, size)?;
        seq.repeat = repeat;
        return Ok(Box::new(seq));
    }
    if path.is_file() && is_picture(path) {
        return Ok(Box::new(ImageSequence::single(path, size)?));
    }
    if path.exists() {
        let looping = if repeat {
            Looping::Forever
        } else {
            Looping::Once
        };
        return Ok(Box::new(VideoFile::open(
            path,
            size,
            Pacing::RealTime,
            looping,
        )?));
    }
    if let Some(kind) = spec.strip_prefix("pattern") {
        let kind = match kind {
            "" | ":moving" => PatternKind::Moving,
            ":still" => PatternKind::Still,
            ":pan" => PatternKind::Pan,
            ":object" => PatternKind::Object,
            _ => return Err(SourceError::Unknown(spec.into())),
        };
        let (w, h) = size.unwrap_or((640, 480));
        return Ok(Box::new(Pattern::new(kind, w, h)));
    }
    if let Some(rest) = spec.strip_prefix("camera") {
        let index = match rest {
            "" => 0,
            r => r
                .strip_prefix(':')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| SourceError::Unknown(spec.into()))?,
        };
        return camera::open(index, size);
    }
    Err(SourceError::Unknown(spec.into()))
}
