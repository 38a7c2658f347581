//! A webcam, through nokhwa (V4L2 on Linux), behind the `camera` feature.

#[cfg(not(feature = "camera"))]
mod imp {
    use crate::sources::{FrameSource, SourceError};

    pub fn open(
        _index: u32,
        _size: Option<(u32, u32)>,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        Err(SourceError::NoCameraSupport)
    }
}

#[cfg(feature = "camera")]
mod imp {
    use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
    use std::time::Duration;

    use image::RgbImage;
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType, Resolution};
    use nokhwa::Camera;

    use crate::sources::{FrameSource, SourceError};

    /// How long without a frame before the camera counts as gone.
    const STALL: Duration = Duration::from_secs(5);

    /// A webcam through nokhwa (V4L2 on Linux). nokhwa's camera cannot move between threads,
    /// so it lives on a thread of its own that hands frames over a one-frame channel.
    pub struct Webcam {
        frames: Receiver<Result<RgbImage, String>>,
        index: u32,
        size: (u32, u32),
    }

    pub fn open(index: u32, size: Option<(u32, u32)>) -> Result<Box<dyn FrameSource>, SourceError> {
        let (opened_tx, opened_rx) = sync_channel::<Result<(u32, u32), String>>(1);
        let (frame_tx, frames) = sync_channel::<Result<RgbImage, String>>(1);
        std::thread::spawn(move || {
            let requested = match size {
                Some((w, h)) => RequestedFormat::new::<RgbFormat>(
                    RequestedFormatType::HighestResolution(Resolution::new(w, h)),
                ),
                None => {
                    RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate)
                }
            };
            let mut camera = match Camera::new(CameraIndex::Index(index), requested)
                .and_then(|mut c| c.open_stream().map(|_| c))
            {
                Ok(c) => c,
                Err(e) => {
                    let _ = opened_tx.send(Err(e.to_string()));
                    return;
                }
            };
            let res = camera.resolution();
            let _ = opened_tx.send(Ok((res.width(), res.height())));
            loop {
                let frame = camera
                    .frame()
                    .and_then(|b| b.decode_image::<RgbFormat>())
                    .map_err(|e| e.to_string());
                let failed = frame.is_err();
                // A full channel means the pipeline has not taken the last frame: drop this one.
                match frame_tx.try_send(frame) {
                    Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
                    _ if failed => return,
                    _ => {}
                }
            }
        });
        let native = opened_rx
            .recv()
            .map_err(|_| SourceError::Camera {
                index,
                reason: "the camera thread stopped".into(),
            })?
            .map_err(|reason| SourceError::Camera { index, reason })?;
        Ok(Box::new(Webcam {
            frames,
            index,
            size: size.unwrap_or(native),
        }))
    }

    impl FrameSource for Webcam {
        fn size(&self) -> (u32, u32) {
            self.size
        }

        fn fps(&self) -> Option<f64> {
            None // the camera paces itself
        }

        fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError> {
            let gone = |reason: String| SourceError::Camera {
                index: self.index,
                reason,
            };
            let img = match self.frames.recv_timeout(STALL) {
                Ok(Ok(img)) => img,
                Ok(Err(e)) => return Err(gone(format!("{e} (unplugged?)"))),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(gone(format!(
                        "no frame for {} s (unplugged or busy?)",
                        STALL.as_secs()
                    )))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(gone("the camera stopped".into()))
                }
            };
            if img.dimensions() == self.size {
                frame.copy_from_slice(img.as_raw());
            } else {
                let r = image::imageops::resize(
                    &img,
                    self.size.0,
                    self.size.1,
                    image::imageops::FilterType::Triangle,
                );
                frame.copy_from_slice(r.as_raw());
            }
            Ok(true)
        }

        fn describe(&self) -> String {
            format!("camera {} {}x{}", self.index, self.size.0, self.size.1)
        }
    }
}

pub use imp::open;
