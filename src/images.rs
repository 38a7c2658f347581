//! Reading pictures the way users hand them over, and writing results without ever leaving a
//! half-written file behind.

use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, ImageReader, RgbImage};

/// The smallest side brushwork accepts: the transformer needs room for its reflect padding
/// (the limit lives with the transformer, in [`crate::stylizer`]).
use crate::stylizer::MIN_CONTENT_SIDE as MIN_SIDE;

/// The JPEG quality of every JPEG brushwork writes unless told otherwise.
pub const JPEG_QUALITY: u8 = 92;

/// The largest picture brushwork decodes, in pixels, whatever its file claims: 100 megapixels
/// (a 48 MP camera photo fits twice). Decoding one takes at most [`MAX_DECODE_BYTES`].
pub const MAX_PIXELS: u64 = 100_000_000;
/// The longest side brushwork decodes.
pub const MAX_SIDE: u32 = 32_768;
/// What a decoder may allocate: 100 MP of 16-bit RGBA is 800 MB.
pub const MAX_DECODE_BYTES: u64 = 1 << 30;
/// The largest picture file brushwork reads.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

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
    #[error("{}: image is {width}x{height} ({:.2} megapixels); brushwork decodes at most {} megapixels and {MAX_SIDE} px a side, whatever --max-size says: scale it down first", .path.display(), *.width as f64 * *.height as f64 / 1e6, *.max_pixels as f64 / 1e6)]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        /// The limit it is over.
        max_pixels: u64,
    },
    #[error("{}: unknown output format; use a .png, .jpg, .jpeg, .webp, .bmp or .tiff name", .0.display())]
    UnknownFormat(PathBuf),
    #[error("{}: cannot write: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

impl ImageError {
    /// Every problem with a user's pictures or output paths is theirs to fix.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

/// Opens an image file as 8-bit RGB: applies its EXIF orientation, flattens alpha onto white, and
/// converts grayscale, palette and 16-bit images. Refuses what is not a regular file, a picture
/// over [`MAX_PIXELS`] (before decoding it) and a truncated JPEG.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageError> {
    let bytes = crate::files::read_regular(path, MAX_FILE_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ImageError::NotFound(path.to_path_buf())
        } else {
            ImageError::Unreadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        }
    })?;
    decode_rgb(&bytes, path, MAX_PIXELS)
}

/// The size [`load_rgb`] will give `path` (its EXIF orientation applied), from the file's header
/// alone; `None` for anything that is not a readable picture (loading it reports why).
pub fn dimensions(path: &Path) -> Option<(u32, u32)> {
    use image::ImageDecoder;
    // Only regular files: a FIFO would block here, and loading refuses it anyway.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut decoder = ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let (w, h) = decoder.dimensions();
    let turned = matches!(
        decoder.orientation().ok()?,
        image::metadata::Orientation::Rotate90
            | image::metadata::Orientation::Rotate270
            | image::metadata::Orientation::Rotate90FlipH
            | image::metadata::Orientation::Rotate270FlipH
    );
    Some(if turned { (h, w) } else { (w, h) })
}

/// [`load_rgb`] for a picture already in memory (an upload): the same checks, with at most
/// `max_pixels` (itself at most [`MAX_PIXELS`]) refused before decoding. `name` only names the
/// picture in errors.
pub fn decode_rgb(bytes: &[u8], name: &Path, max_pixels: u64) -> Result<RgbImage, ImageError> {
    let img = decode_dynamic(bytes, name, max_pixels.min(MAX_PIXELS))?;
    let rgb = to_rgb_on_white(img);
    if rgb.width() < MIN_SIDE || rgb.height() < MIN_SIDE {
        return Err(ImageError::TooSmall {
            path: name.to_path_buf(),
            width: rgb.width(),
            height: rgb.height(),
        });
    }
    Ok(rgb)
}

fn decode_dynamic(bytes: &[u8], path: &Path, max_pixels: u64) -> Result<DynamicImage, ImageError> {
    let not_image = |reason: String| ImageError::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| not_image(e.to_string()))?;
    if reader.format() == Some(ImageFormat::Jpeg) {
        jpeg_check_complete(bytes).map_err(|e| not_image(e.into()))?;
    }
    let format = reader.format();
    let mut decoder = reader.into_decoder().map_err(|e| {
        // Decoders refuse a 0-pixel header as "too large" or "invalid"; say what it is.
        match format.and_then(|f| header_size(f, bytes)) {
            Some((w, h)) if w == 0 || h == 0 => {
                not_image(format!("it is {w}x{h}: it has no pixels"))
            }
            _ => not_image(decode_reason(&e)),
        }
    })?;
    use image::ImageDecoder;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(not_image(format!(
            "it is {width}x{height}: it has no pixels"
        )));
    }
    if u64::from(width) * u64::from(height) > max_pixels || width.max(height) > MAX_SIDE {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_pixels,
        });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    decoder
        .set_limits(limits)
        .map_err(|e| not_image(decode_reason(&e)))?;
    let orientation = decoder
        .orientation()
        .map_err(|e| not_image(decode_reason(&e)))?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| not_image(decode_reason(&e)))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// A decoder's error in words: "does not support the color type `Unknown(16)`" names a pixel
/// layout the decoder lacks (a TIFF's grey with alpha, say) in its own terms.
fn decode_reason(e: &image::ImageError) -> String {
    use image::error::{ImageError as E, UnsupportedErrorKind};
    if let E::Unsupported(u) = e {
        if let UnsupportedErrorKind::Color(image::ExtendedColorType::Unknown(bits)) = u.kind() {
            return format!(
                "its pixel layout ({bits} bits per pixel) is one the decoder cannot read; save it \
                 as 8-bit RGB"
            );
        }
    }
    e.to_string()
}

/// The width and height a PNG or BMP header declares (a BMP's sign dropped: a negative
/// height means top-down rows), for the messages of headers their decoders refuse.
fn header_size(format: ImageFormat, b: &[u8]) -> Option<(u32, u32)> {
    let le32 = |at: usize| Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| {
        Some(u32::from(u16::from_le_bytes(
            b.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    let be32 = |at: usize| Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?));
    match format {
        // The IHDR chunk comes first: width and height after its length and type.
        ImageFormat::Png => Some((be32(16)?, be32(20)?)),
        // An OS/2 core header (12 bytes) has 16-bit sides.
        ImageFormat::Bmp if le32(14)? == 12 => Some((le16(18)?, le16(20)?)),
        ImageFormat::Bmp => Some((le32(18)?.unsigned_abs(), le32(22)?.unsigned_abs())),
        _ => None,
    }
}

/// Checks that a JPEG stream runs to its end-of-image marker. The decoder paints whatever is
/// missing from a cut-off file flat grey and calls it a success; this walks the marker segments
/// (skipping each scan's entropy-coded data) and refuses a stream that ends first.
pub fn jpeg_check_complete(b: &[u8]) -> Result<(), &'static str> {
    const TRUNCATED: &str = "the JPEG is truncated: it ends before its end-of-image marker";
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return Err("no JPEG start-of-image marker");
    }
    let mut i = 2;
    loop {
        // The next marker: 0xFF (any number of fill bytes), then its code.
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = b.get(i) else {
            return Err(TRUNCATED);
        };
        i += 1;
        match code {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => continue, // markers without a length
            _ => {}
        }
        let len = match b.get(i..i + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return Err(TRUNCATED),
        };
        if len < 2 || i + len > b.len() {
            return Err(TRUNCATED);
        }
        i += len;
        if code == 0xDA {
            // Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a
            // restart marker.
            loop {
                while i < b.len() && b[i] != 0xFF {
                    i += 1;
                }
                match b.get(i + 1) {
                    None => return Err(TRUNCATED),
                    Some(0x00 | 0xD0..=0xD7) => i += 2,
                    Some(0xFF) => i += 1,
                    Some(_) => break,
                }
            }
        }
    }
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

/// A path's extension in lower case (`Photo.JPG` -> `jpg`).
pub fn lowercase_extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The output format for a path, from its extension.
pub fn output_format(path: &Path) -> Result<ImageFormat, ImageError> {
    let ext = lowercase_extension(path);
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

/// Encodes `img` in memory: as JPEG at `jpeg_quality`, or in `format` (quality unused).
pub fn encode(img: &RgbImage, format: ImageFormat, jpeg_quality: u8) -> Result<Vec<u8>, String> {
    // Encoders for some formats need to seek, so encode into a cursor.
    let mut encoded = std::io::Cursor::new(Vec::new());
    encode_into(img, format, jpeg_quality, &mut encoded)?;
    Ok(encoded.into_inner())
}

/// [`encode`] into a writer that can seek (a file): no buffer of the whole output.
pub fn encode_into(
    img: &RgbImage,
    format: ImageFormat,
    jpeg_quality: u8,
    out: &mut (impl std::io::Write + std::io::Seek),
) -> Result<(), String> {
    let result = if format == ImageFormat::Jpeg {
        JpegEncoder::new_with_quality(out, jpeg_quality).encode_image(img)
    } else {
        img.write_to(out, format)
    };
    result.map_err(|e| e.to_string())
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
    // Straight into the temporary file: a large picture's encoded stream is never held whole
    // (under an address-space limit, growing that buffer could abort the process).
    crate::atomic::write_with(path, |file| encode_into(img, format, jpeg_quality, file))
        .map_err(write_err)
}

/// Downscales so the longer side is at most `max` (never upscales).
pub fn fit_within(img: RgbImage, max: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = fit_dims(w, h, max);
    if (nw, nh) == (w, h) {
        return img;
    }
    image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Lanczos3)
}

/// The size that fits `w`×`h` within `max` on its longer side, keeping the aspect ratio (at
/// least 1 px a side); unchanged when it already fits.
pub fn fit_dims(w: u32, h: u32, max: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= max {
        return (w, h);
    }
    let scale = f64::from(max) / f64::from(long);
    (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    )
}
