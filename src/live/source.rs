//! Where live frames come from: a camera, a video file (decoded by the `ffmpeg` command), a
//! directory of images, or a synthetic test pattern.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

/// Problems opening or reading a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source '{0}': use camera, camera:N, pattern, pattern:still, pattern:pan, a video file or a directory of images")]
    Unknown(String),
    #[error("this brushwork was built without camera support; rebuild with `cargo build --release --features camera` (needs libclang), or use a video file or pattern")]
    NoCameraSupport,
    #[error("camera {index}: {reason}")]
    Camera { index: u32, reason: String },
    #[error("{what} needs the ffmpeg command (Debian: apt-get install ffmpeg): {reason}")]
    NoFfmpeg { what: String, reason: String },
    #[error("{}: cannot read video: {reason}", .path.display())]
    Video { path: PathBuf, reason: String },
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
            SourceError::Unknown(_) | SourceError::Video { .. } | SourceError::NoImages(_) => true,
            SourceError::Image(e) => e.is_user_error(),
            SourceError::NoCameraSupport
            | SourceError::Camera { .. }
            | SourceError::NoFfmpeg { .. } => false,
        }
    }
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

/// What the synthetic pattern shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatternKind {
    /// Shapes moving over a gradient.
    Moving,
    /// A fixed scene with a little sensor-like noise in every frame.
    Still,
    /// A slow pan across a fixed scene.
    Pan,
}

/// A synthetic, deterministic test pattern at 30 fps.
pub struct Pattern {
    kind: PatternKind,
    width: u32,
    height: u32,
    t: u32,
    rng: u32,
    scene: RgbImage,
}

impl Pattern {
    pub fn new(kind: PatternKind, width: u32, height: u32) -> Self {
        // The scene is wider than the frame so that it can pan.
        let sw = width + width / 2;
        let scene = RgbImage::from_fn(sw, height, |x, y| {
            let fx = x as f32 / sw as f32;
            let fy = y as f32 / height as f32;
            let stripes = (((x / 24) + (y / 24)) % 2) as f32 * 40.0;
            let ring = {
                let (dx, dy) = (fx - 0.4, fy - 0.5);
                if (dx * dx + dy * dy).sqrt() < 0.18 {
                    90.0
                } else {
                    0.0
                }
            };
            Rgb([
                (60.0 + 150.0 * fx + ring) as u8,
                (40.0 + 120.0 * fy + stripes) as u8,
                (200.0 - 120.0 * fx + stripes - ring / 2.0).clamp(0.0, 255.0) as u8,
            ])
        });
        Pattern {
            kind,
            width,
            height,
            t: 0,
            rng: 0x9e37_79b9,
            scene,
        }
    }

    fn noise(&mut self) -> i16 {
        // xorshift32: deterministic, no dependency
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        (self.rng % 7) as i16 - 3
    }
}

impl FrameSource for Pattern {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn fps(&self) -> Option<f64> {
        Some(30.0)
    }

    fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError> {
        let t = self.t;
        self.t += 1;
        let (w, h) = (self.width, self.height);
        let offset = match self.kind {
            PatternKind::Pan => (t / 2) % (self.scene.width() - w),
            _ => 0,
        };
        for y in 0..h {
            for x in 0..w {
                frame.put_pixel(x, y, *self.scene.get_pixel(x + offset, y));
            }
        }
        match self.kind {
            PatternKind::Still => {
                for v in frame.as_mut().iter_mut() {
                    *v = (i16::from(*v) + self.noise()).clamp(0, 255) as u8;
                }
            }
            PatternKind::Moving => {
                // a bright square orbiting, and a bar sweeping down
                let cx = (w / 2) as f32 + (w as f32 / 3.0) * (t as f32 * 0.05).cos();
                let cy = (h / 2) as f32 + (h as f32 / 3.0) * (t as f32 * 0.05).sin();
                let side = (w.min(h) / 8) as i64;
                for y in (cy as i64 - side).max(0)..(cy as i64 + side).min(h as i64) {
                    for x in (cx as i64 - side).max(0)..(cx as i64 + side).min(w as i64) {
                        frame.put_pixel(x as u32, y as u32, Rgb([250, 230, 60]));
                    }
                }
                let bar = (t * 4) % h;
                for y in bar..(bar + 6).min(h) {
                    for x in 0..w {
                        frame.put_pixel(x, y, Rgb([20, 20, 20]));
                    }
                }
            }
            PatternKind::Pan => {}
        }
        Ok(true)
    }

    fn describe(&self) -> String {
        format!(
            "test pattern ({:?}) {}x{}",
            self.kind, self.width, self.height
        )
        .to_lowercase()
    }
}

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
        let first = files
            .first()
            .ok_or_else(|| SourceError::NoImages(dir.into()))?;
        let size = match size {
            Some(s) => s,
            None => crate::images::load_rgb(first)?.dimensions(),
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

    fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError> {
        if self.repeat && self.next == self.files.len() {
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
        format!(
            "{} images, {}x{}",
            self.files.len(),
            self.size.0,
            self.size.1
        )
    }
}

/// What `ffprobe` says of a video's first video stream.
#[derive(Debug, Clone, Copy)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Frame count when the container says, else estimated from the duration.
    pub frames: Option<u64>,
    pub has_audio: bool,
}

/// Asks `ffprobe` for a video's size, rate and length.
pub fn probe(path: &Path) -> Result<VideoInfo, SourceError> {
    let video_err = |reason: String| SourceError::Video {
        path: path.into(),
        reason,
    };
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .arg("stream=codec_type,width,height,r_frame_rate,nb_frames:format=duration")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .map_err(|e| SourceError::NoFfmpeg {
            what: "reading video".into(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(video_err(
            msg.lines().last().unwrap_or("ffprobe failed").trim().into(),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut width, mut height, mut fps, mut frames, mut duration) = (0, 0, 0.0, None, None);
    let mut has_audio = false;
    let mut in_video = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "codec_type" => {
                in_video = v == "video" && width == 0;
                has_audio |= v == "audio";
            }
            "width" if in_video => width = v.parse().unwrap_or(0),
            "height" if in_video => height = v.parse().unwrap_or(0),
            "r_frame_rate" if in_video => {
                if let Some((n, d)) = v.split_once('/') {
                    let (n, d): (f64, f64) = (n.parse().unwrap_or(0.0), d.parse().unwrap_or(1.0));
                    if d > 0.0 {
                        fps = n / d;
                    }
                }
            }
            "nb_frames" if in_video => frames = v.parse().ok(),
            "duration" => duration = v.parse::<f64>().ok(),
            _ => {}
        }
    }
    if width == 0 || height == 0 {
        return Err(video_err("no video stream".into()));
    }
    if fps <= 0.0 || !fps.is_finite() {
        fps = 30.0;
    }
    let frames = frames.or_else(|| duration.map(|d| (d * fps).round() as u64));
    Ok(VideoInfo {
        width,
        height,
        fps,
        frames,
        has_audio,
    })
}

/// A video file decoded by `ffmpeg` into raw RGB frames over a pipe.
pub struct VideoFile {
    path: PathBuf,
    info: VideoInfo,
    size: (u32, u32),
    child: Child,
    stdout: ChildStdout,
}

/// How fast a video file is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// At the video's own frame rate (live playback).
    RealTime,
    /// As fast as frames are taken (stylizing a whole file).
    AsFast,
}

/// Whether a video file (or an image directory) starts again at its end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Looping {
    Once,
    Forever,
}

impl VideoFile {
    pub fn open(
        path: &Path,
        size: Option<(u32, u32)>,
        pacing: Pacing,
        looping: Looping,
    ) -> Result<Self, SourceError> {
        let info = probe(path)?;
        let size = size.unwrap_or((info.width, info.height));
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin"]);
        if pacing == Pacing::RealTime {
            cmd.arg("-re");
        }
        if looping == Looping::Forever {
            cmd.args(["-stream_loop", "-1"]);
        }
        cmd.arg("-i")
            .arg(path)
            .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args(["-vf", &format!("scale={}:{}", size.0, size.1)])
            .arg("-")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // Its own process group: a terminal's Ctrl-C goes to brushwork, which stops cleanly,
        // rather than also ending the decoder mid-stream (which would look like the video's end).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| SourceError::NoFfmpeg {
            what: "reading video".into(),
            reason: e.to_string(),
        })?;
        let stdout = child.stdout.take().expect("piped");
        Ok(VideoFile {
            path: path.into(),
            info,
            size,
            child,
            stdout,
        })
    }

    pub fn info(&self) -> VideoInfo {
        self.info
    }
}

impl FrameSource for VideoFile {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn fps(&self) -> Option<f64> {
        None // ffmpeg -re paces it
    }

    fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError> {
        let buf: &mut [u8] = frame.as_mut();
        let mut filled = 0;
        while filled < buf.len() {
            match self.stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(SourceError::Video {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        if filled == 0 {
            let status = self.child.wait().ok();
            if status.is_some_and(|s| !s.success()) {
                return Err(SourceError::Video {
                    path: self.path.clone(),
                    reason: "ffmpeg could not decode it".into(),
                });
            }
            return Ok(false);
        }
        Ok(filled == buf.len())
    }

    fn describe(&self) -> String {
        format!(
            "{} ({}x{} at {:.2} fps)",
            self.path.display(),
            self.size.0,
            self.size.1,
            self.info.fps
        )
    }
}

impl Drop for VideoFile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(not(feature = "camera"))]
mod camera {
    use super::{FrameSource, SourceError};

    pub fn open(
        _index: u32,
        _size: Option<(u32, u32)>,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        Err(SourceError::NoCameraSupport)
    }
}

#[cfg(feature = "camera")]
mod camera {
    use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
    use std::time::Duration;

    use image::RgbImage;
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType, Resolution};
    use nokhwa::Camera;

    use super::{FrameSource, SourceError};

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
