//! Webcam frames on the WebSocket, both ways: a 16-byte header (`BWJ1` for a JPEG or `BWR1`
//! for raw RGBA, then the sequence number, width and height as little-endian u32) and the
//! picture. The answer to a frame has the frame's sequence number and transport.

use std::path::Path;

use crate::images;
use axum::body::Bytes;
use image::{ImageFormat, RgbImage};

use super::error::ApiError;

pub const HEADER_LEN: usize = 16;
const JPEG: &[u8; 4] = b"BWJ1";
const RAW: &[u8; 4] = b"BWR1";
/// The JPEG quality of stylized frames sent back.
pub const JPEG_QUALITY: u8 = 85;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transport {
    Jpeg,
    Raw,
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub transport: Transport,
    pub seq: u32,
    pub width: u32,
    pub height: u32,
    pub payload: Bytes,
    pub max_pixels: u64,
}

impl Frame {
    /// Reads a frame's header; the picture itself is checked when decoded.
    pub fn parse(message: Bytes, max_pixels: u64) -> Result<Frame, ApiError> {
        let bad = |why: &str| ApiError::bad_request(format!("webcam frame: {why}"));
        if message.len() < HEADER_LEN {
            return Err(bad("shorter than its 16-byte header"));
        }
        let word = |i: usize| u32::from_le_bytes(message[i..i + 4].try_into().expect("4 bytes"));
        let transport = match &message[..4] {
            m if m == JPEG => Transport::Jpeg,
            m if m == RAW => Transport::Raw,
            _ => {
                return Err(bad(
                    "unknown header; frames start with BWJ1 (JPEG) or BWR1 (RGBA)",
                ))
            }
        };
        let (seq, width, height) = (word(4), word(8), word(12));
        if u64::from(width) * u64::from(height) > max_pixels {
            return Err(ApiError::too_large(format!(
                "webcam frame: {width}x{height} is over the server's {:.1} megapixels",
                max_pixels as f64 / 1e6
            )));
        }
        if transport == Transport::Raw
            && (message.len() - HEADER_LEN) as u64 != u64::from(width) * u64::from(height) * 4
        {
            return Err(bad(&format!(
                "{} bytes of RGBA for {width}x{height}; expected {}",
                message.len() - HEADER_LEN,
                u64::from(width) * u64::from(height) * 4
            )));
        }
        Ok(Frame {
            transport,
            seq,
            width,
            height,
            payload: message.slice(HEADER_LEN..),
            max_pixels,
        })
    }

    /// The frame as RGB (a JPEG goes through the same checks as an uploaded photo).
    pub fn to_rgb(&self) -> Result<RgbImage, ApiError> {
        match self.transport {
            Transport::Jpeg => Ok(images::decode_rgb(
                &self.payload,
                Path::new("webcam frame"),
                self.max_pixels,
            )?),
            Transport::Raw => {
                if self.width < crate::MIN_CONTENT_SIDE || self.height < crate::MIN_CONTENT_SIDE {
                    return Err(ApiError::bad_request(format!(
                        "webcam frame: {}x{} is too small",
                        self.width, self.height
                    )));
                }
                let rgb: Vec<u8> = self
                    .payload
                    .chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect();
                Ok(RgbImage::from_raw(self.width, self.height, rgb).expect("length checked"))
            }
        }
    }
}

/// The answer to `frame`: `out` in the frame's transport.
pub fn encode(frame: &Frame, out: &RgbImage) -> Result<Vec<u8>, ApiError> {
    let magic = match frame.transport {
        Transport::Jpeg => JPEG,
        Transport::Raw => RAW,
    };
    let mut bytes = Vec::with_capacity(match frame.transport {
        Transport::Raw => HEADER_LEN + out.as_raw().len() / 3 * 4,
        Transport::Jpeg => HEADER_LEN,
    });
    bytes.extend_from_slice(magic);
    for v in [frame.seq, out.width(), out.height()] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    match frame.transport {
        Transport::Jpeg => {
            let jpeg = images::encode(out, ImageFormat::Jpeg, JPEG_QUALITY)
                .map_err(|e| ApiError::internal(format!("cannot encode the frame: {e}")))?;
            bytes.extend_from_slice(&jpeg);
        }
        Transport::Raw => {
            for p in out.pixels() {
                bytes.extend_from_slice(&[p[0], p[1], p[2], 255]);
            }
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(seq: u32, w: u32, h: u32, len: usize) -> Bytes {
        let mut m = RAW.to_vec();
        for v in [seq, w, h] {
            m.extend_from_slice(&v.to_le_bytes());
        }
        m.extend(std::iter::repeat_n(7u8, len));
        Bytes::from(m)
    }

    #[test]
    fn raw_frames_round_trip_and_bad_ones_are_refused() {
        let f = Frame::parse(raw(9, 20, 16, 20 * 16 * 4), 1 << 20).unwrap();
        assert_eq!((f.seq, f.width, f.height), (9, 20, 16));
        let rgb = f.to_rgb().unwrap();
        assert_eq!(rgb.dimensions(), (20, 16));
        let back = encode(&f, &rgb).unwrap();
        assert_eq!(&back[..4], RAW);
        assert_eq!(back.len(), HEADER_LEN + 20 * 16 * 4);
        assert_eq!(&back[16..20], &[7, 7, 7, 255]);

        assert_eq!(
            Frame::parse(raw(1, 20, 16, 5), 1 << 20).unwrap_err().status,
            400
        );
        assert_eq!(
            Frame::parse(raw(1, 4000, 4000, 0), 1 << 20)
                .unwrap_err()
                .status,
            413
        );
        assert_eq!(
            Frame::parse(Bytes::from_static(b"BWJ1"), 1 << 20)
                .unwrap_err()
                .status,
            400
        );
        assert!(
            Frame::parse(Bytes::from_static(b"GIF89a.........."), 1 << 20)
                .unwrap_err()
                .message
                .contains("unknown header")
        );
        let tiny = Frame::parse(raw(1, 4, 4, 64), 1 << 20).unwrap();
        assert_eq!(tiny.to_rgb().unwrap_err().status, 400);
    }
}
