//! Reading pictures the way users hand them over, and writing results without ever leaving a
//! half-written file behind.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, ImageReader, RgbImage};

/// The smallest side brushwork accepts: the transformer needs room for its reflect padding
/// (the limit lives with the transformer, in [`crate::stylizer`]).
use crate::stylizer::MIN_CONTENT_SIDE as MIN_SIDE;

/// Problems with a user's pictures or output paths. All of them are the user's to fix.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: no such file", .0.display())]
    NotFound(PathBuf),
    #[error("{}: cannot read: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: not an image brushwork can decode ({reason})", .path.display())]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{}: image is {width}x{height}; both sides must be at least {MIN_SIDE} px", .path.display())]
    TooSmall {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    #[error("{}: unknown output format; use a .png, .jpg, .jpeg, .webp, .bmp or .tiff name", .0.display())]
    UnknownFormat(PathBuf),
    #[error("{}: cannot write: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

/// Opens an image file as 8-bit RGB: applies its EXIF orientation, flattens alpha onto white, and
/// converts grayscale, palette and 16-bit images.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageError> {
    let img = load_dynamic(path)?;
    let rgb = to_rgb_on_white(img);
    if rgb.width() < MIN_SIDE || rgb.height() < MIN_SIDE {
        return Err(ImageError::TooSmall {
            path: path.to_path_buf(),
            width: rgb.width(),
            height: rgb.height(),
        });
    }
    Ok(rgb)
}

fn load_dynamic(path: &Path) -> Result<DynamicImage, ImageError> {
    let unreadable = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ImageError::NotFound(path.to_path_buf())
        } else {
            ImageError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        }
    };
    if path.is_dir() {
        return Err(ImageError::Unreadable {
            path: path.to_path_buf(),
            reason: "is a directory".into(),
        });
    }
    let not_image = |e: image::ImageError| ImageError::NotAnImage {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let reader = ImageReader::open(path)
        .map_err(unreadable)?
        .with_guessed_format()
        .map_err(unreadable)?;
    let mut decoder = reader.into_decoder().map_err(not_image)?;
    use image::ImageDecoder;
    let orientation = decoder.orientation().map_err(not_image)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(not_image)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Converts any decoded image to RGB8, compositing transparent pixels over white.
pub fn to_rgb_on_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba32f();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = src[3].clamp(0.0, 1.0);
        for c in 0..3 {
            let v = src[c].clamp(0.0, 1.0) * a + (1.0 - a);
            dst[c] = (v * 255.0 + 0.5) as u8;
        }
    }
    out
}

/// The output format for a path, from its extension.
pub fn output_format(path: &Path) -> Result<ImageFormat, ImageError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => Ok(ImageFormat::Png),
        Some("jpg" | "jpeg") => Ok(ImageFormat::Jpeg),
        Some("webp") => Ok(ImageFormat::WebP),
        Some("bmp") => Ok(ImageFormat::Bmp),
        Some("tif" | "tiff") => Ok(ImageFormat::Tiff),
        _ => Err(ImageError::UnknownFormat(path.to_path_buf())),
    }
}

/// Checks, before any work is done, that `path` could be written.
pub fn check_writable_target(path: &Path) -> Result<(), ImageError> {
    crate::atomic::check_target(path).map_err(|reason| ImageError::Write {
        path: path.to_path_buf(),
        reason,
    })
}

/// Writes `img` to `path` atomically (see [`crate::atomic`]), in the format its extension names.
/// `jpeg_quality` applies to JPEG output only.
pub fn save_atomic(img: &RgbImage, path: &Path, jpeg_quality: u8) -> Result<(), ImageError> {
    let format = output_format(path)?;
    check_writable_target(path)?;
    let write_err = |reason: String| ImageError::Write {
        path: path.to_path_buf(),
        reason,
    };
    // Encoders for some formats need to seek, so encode in memory and write once.
    let mut encoded = std::io::Cursor::new(Vec::new());
    let result = if format == ImageFormat::Jpeg {
        JpegEncoder::new_with_quality(&mut encoded, jpeg_quality).encode_image(img)
    } else {
        img.write_to(&mut encoded, format)
    };
    result.map_err(|e| write_err(e.to_string()))?;
    crate::atomic::write(path, encoded.get_ref()).map_err(write_err)
}
