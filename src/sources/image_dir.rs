//! A directory of images played as a stream; one picture (a file, or a directory holding one)
//! is a still.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::RgbImage;

use super::{FrameSource, SourceError};

/// The images of a directory, in name order, each resized to the sequence's size; at 30 fps.
pub struct ImageSequence {
    files: Vec<PathBuf>,
    next: usize,
    size: (u32, u32),
    /// Start again after the last image.
    pub repeat: bool,
}

impl ImageSequence {
    pub fn open(dir: &Path, size: Option<(u32, u32)>) -> Result<Self, SourceError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|_| SourceError::NoImages(dir.into()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| image::ImageFormat::from_extension(e).is_some())
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(SourceError::NoImages(dir.into()));
        }
        Self::of(files, size)
    }

    /// One picture, shown as a still.
    pub fn single(path: &Path, size: Option<(u32, u32)>) -> Result<Self, SourceError> {
        Self::of(vec![path.to_path_buf()], size)
    }

    fn of(files: Vec<PathBuf>, size: Option<(u32, u32)>) -> Result<Self, SourceError> {
        let size = match size {
            Some(s) => s,
            None => crate::images::load_rgb(&files[0])?.dimensions(),
        };
        Ok(ImageSequence {
            files,
            next: 0,
            size,
            repeat: false,
        })
    }
}

impl FrameSource for ImageSequence {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn fps(&self) -> Option<f64> {
        Some(30.0)
    }

    fn is_still(&self) -> bool {
        self.files.len() == 1
    }

    fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError> {
        if (self.repeat || self.is_still()) && self.next == self.files.len() {
            self.next = 0;
        }
        let Some(path) = self.files.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        let img = crate::images::load_rgb(path)?;
        if img.dimensions() == self.size {
            frame.copy_from_slice(img.as_raw());
        } else {
            let resized = imageops::resize(&img, self.size.0, self.size.1, FilterType::Triangle);
            frame.copy_from_slice(resized.as_raw());
        }
        Ok(true)
    }

    fn describe(&self) -> String {
        if self.is_still() {
            return format!(
                "{} (still), {}x{}",
                self.files[0].display(),
                self.size.0,
                self.size.1
            );
        }
        format!(
            "{} images, {}x{}",
            self.files.len(),
            self.size.0,
            self.size.1
        )
    }
}
