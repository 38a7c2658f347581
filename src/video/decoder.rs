//! Decoding a video file with the `ffmpeg` command into raw RGB frames over a pipe.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use image::RgbImage;

use super::{probe, VideoError, VideoInfo};
use crate::sources::{FrameSource, SourceError};

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
    ) -> Result<Self, VideoError> {
        Self::open_probed(path, probe(path)?, size, pacing, looping)
    }

    /// Like [`open`](Self::open), with what [`probe`] already said of the file.
    pub fn open_probed(
        path: &Path,
        info: VideoInfo,
        size: Option<(u32, u32)>,
        pacing: Pacing,
        looping: Looping,
    ) -> Result<Self, VideoError> {
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
        let mut child = cmd.spawn().map_err(|e| VideoError::NoFfmpeg {
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
                    return Err(VideoError::Unreadable {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    }
                    .into())
                }
            }
        }
        if filled == 0 {
            let status = self.child.wait().ok();
            if status.is_some_and(|s| !s.success()) {
                return Err(VideoError::Unreadable {
                    path: self.path.clone(),
                    reason: "ffmpeg could not decode it".into(),
                }
                .into());
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
