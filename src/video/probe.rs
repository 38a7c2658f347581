//! What `ffprobe` says of a video.

use std::path::Path;
use std::process::Command;

use super::VideoError;

/// What `ffprobe` says of a video's first video stream.
#[derive(Debug, Clone, Copy)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// Frame count when the container says, else estimated from the duration.
    pub frames: Option<u64>,
    pub has_audio: bool,
    /// A single picture (a JPEG, a PNG, ...) rather than a video: ffmpeg reads those too.
    pub still: bool,
}

/// Asks `ffprobe` for a video's size, rate and length.
pub fn probe(path: &Path) -> Result<VideoInfo, VideoError> {
    let video_err = |reason: String| VideoError::Unreadable {
        path: path.into(),
        reason,
    };
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .arg("stream=codec_type,width,height,r_frame_rate,nb_frames:format=duration,format_name")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .map_err(|e| VideoError::NoFfmpeg {
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
    let mut picture_format = false;
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
            // ffmpeg's demuxers of single pictures: image2 and the *_pipe ones (png_pipe, ...).
            "format_name" => picture_format = v == "image2" || v.ends_with("_pipe"),
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
        still: picture_format && packets_up_to_two(path) == Some(1),
    })
}

/// How many packets (frames) the first video stream holds, counting no further than two:
/// a picture demuxer also reads streams of pictures (a camera's raw MJPEG, say), whose
/// header gives no frame count. `None` if ffprobe cannot say.
fn packets_up_to_two(path: &Path) -> Option<u64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_packets"])
        .args([
            "-read_intervals",
            "%+#2",
            "-show_entries",
            "stream=nb_read_packets",
        ])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}
