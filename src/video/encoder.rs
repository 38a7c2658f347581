//! Encoding RGB frames to H.264 with the `ffmpeg` command, keeping another file's audio.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use image::RgbImage;

use super::VideoError;
use crate::atomic::{ChildGroup, Temporary};

/// How an [`Encoder`] encodes.
#[derive(Debug, Clone)]
pub struct EncoderSettings {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// H.264 quality: lower is better and larger (0-51).
    pub crf: u8,
    /// A file whose first audio track is copied in (re-encoded as AAC), if it has one.
    pub audio_from: Option<PathBuf>,
}

/// An `ffmpeg` child that writes a temporary file beside the target. [`finish`](Self::finish)
/// renames it onto the target once the encoder has succeeded; dropped unfinished, the encoder
/// is killed and the temporary file removed (a signal does the same through
/// [`crate::atomic`]).
pub struct Encoder {
    target: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    tmp: Option<Temporary>,
    _group: ChildGroup,
}

impl Encoder {
    /// Starts ffmpeg writing `target`'s temporary file (its extension picks the container).
    pub fn start(target: &Path, settings: &EncoderSettings) -> Result<Encoder, VideoError> {
        let write_err = |reason: String| VideoError::Write {
            path: target.to_path_buf(),
            reason,
        };
        let ext = crate::images::lowercase_extension(target).unwrap_or_else(|| "mp4".into());
        let dir = crate::atomic::parent_dir(target);
        let tmp =
            Temporary::new_in(dir, &format!(".{ext}")).map_err(|e| write_err(e.to_string()))?;
        // A dead encoder must be an error brushwork reports (and cleans up after), not a
        // SIGPIPE that ends it with the temporary file still there.
        #[cfg(unix)]
        // SAFETY: changes this process's SIGPIPE disposition; no memory is touched.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        let mut cmd = Command::new("ffmpeg");
        // Its own process group: a terminal's Ctrl-C reaches brushwork alone, which stops the
        // encoder itself (see crate::atomic::kill_child_groups).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args(["-s", &format!("{}x{}", settings.width, settings.height)])
            .args(["-r", &format!("{}", settings.fps)])
            .args(["-i", "-"]);
        if let Some(audio) = &settings.audio_from {
            cmd.arg("-i")
                .arg(audio)
                .args(["-map", "0:v:0", "-map", "1:a?"]);
        }
        cmd.args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
            .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .args(["-crf", &settings.crf.to_string()])
            .args(["-c:a", "aac", "-shortest"])
            .arg(tmp.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| VideoError::NoFfmpeg {
            what: "writing video".into(),
            reason: e.to_string(),
        })?;
        let group = ChildGroup::register(child.id());
        let stdin = child.stdin.take();
        Ok(Encoder {
            target: target.to_path_buf(),
            child: Some(child),
            stdin,
            tmp: Some(tmp),
            _group: group,
        })
    }

    /// Sends one frame (the size given at the start).
    pub fn write(&mut self, frame: &RgbImage) -> std::io::Result<()> {
        match &mut self.stdin {
            Some(stdin) => stdin.write_all(frame.as_raw()),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    /// Closes the stream, waits for ffmpeg and, if it succeeded, puts the file at the target.
    pub fn finish(mut self) -> Result<(), VideoError> {
        if let Some(reason) = self.wait()? {
            return Err(VideoError::Write {
                path: self.target.clone(),
                reason: format!("encoding failed: {reason}"),
            });
        }
        let tmp = self.tmp.take().expect("finished once");
        tmp.persist(&self.target).map_err(|e| VideoError::Write {
            path: self.target.clone(),
            reason: e.to_string(),
        })
    }
}

impl Encoder {
    /// Gives up after a frame could not be sent: waits for ffmpeg and returns the error, with
    /// ffmpeg's own last word when it has one. Nothing is left at the target.
    pub fn abandon(mut self, cause: std::io::Error) -> VideoError {
        let reason = match self.wait() {
            Ok(Some(why)) => format!("encoding failed: {why}"),
            _ => format!("the encoder stopped taking frames: {cause}"),
        };
        VideoError::Write {
            path: self.target.clone(),
            reason,
        }
    }

    /// Closes ffmpeg's input and waits: `None` when it succeeded, else its last error line.
    fn wait(&mut self) -> Result<Option<String>, VideoError> {
        drop(self.stdin.take());
        let child = self.child.take().expect("waited once");
        let out = child.wait_with_output().map_err(|e| VideoError::Write {
            path: self.target.clone(),
            reason: e.to_string(),
        })?;
        if out.status.success() {
            return Ok(None);
        }
        let msg = String::from_utf8_lossy(&out.stderr);
        Ok(Some(
            msg.lines()
                .last()
                .unwrap_or("ffmpeg failed")
                .trim()
                .to_string(),
        ))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // `tmp` removes the unfinished file as it drops.
    }
}
