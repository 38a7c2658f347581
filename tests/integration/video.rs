//! Whole video files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

fn make_clip(dir: &Path, seconds: u32) -> PathBuf {
    let clip = dir.join("clip.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=160x120:rate=15:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(ok.success());
    clip
}

fn streams(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,width,height,nb_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn video_keeps_every_frame_and_the_sound() {
    if !have("ffmpeg") {
        skip(
            "video_keeps_every_frame_and_the_sound",
            "ffmpeg is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), 2);
    let out_path = dir.path().join("painted.mp4");
    let out = brushwork(&[&"video", &clip, &"-o", &out_path, &"--style", &"towers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = streams(&out_path);
    assert!(s.contains("video,160,120,30"), "{s}");
    assert!(
        s.lines().any(|l| l.starts_with("audio")),
        "no audio track: {s}"
    );
}

#[test]
fn video_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let not_video = dir.path().join("notes.mp4");
    std::fs::write(&not_video, "not a video").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let video = |input: &Path, output: &str| {
        brushwork(&[
            &"video",
            &input,
            &"-o",
            &out_dir.join(output),
            &"-s",
            &"towers",
        ])
    };
    let out = video(&not_video, "x.mp4");
    if have("ffprobe") {
        assert_user_error(&out, "cannot read video", &out_dir);
    } else {
        assert!(
            stderr(&out).contains("needs the ffmpeg command"),
            "{}",
            stderr(&out)
        );
    }
    let out = video(&not_video, "x.avi");
    assert_user_error(&out, "use an .mp4, .mkv or .mov name", &out_dir);
    // ffmpeg reads a photo as a one-frame video: refused, with where photos go instead.
    if have("ffprobe") {
        let png = dir.path().join("photo.png");
        std::fs::copy(data("content_333x250.png"), &png).unwrap();
        for photo in [example("content/coast_guard_boat.jpg"), png] {
            let out = video(&photo, "x.mp4");
            assert_user_error(
                &out,
                "a still picture, not a video; `brushwork stylize`",
                &out_dir,
            );
        }
    }
}

/// Streams of pictures are videos, though ffmpeg reads some with its picture demuxers: a
/// camera's raw MJPEG and an animated GIF each give every frame.
#[test]
fn streams_of_pictures_are_videos() {
    if !have("ffmpeg") {
        skip("streams_of_pictures_are_videos", "ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["camera.mjpeg", "camera.mjpg", "animation.gif"] {
        let input = dir.path().join(name);
        make_testsrc(
            &input,
            "size=64x48:rate=5:duration=1",
            &[
                "-f",
                if name.ends_with("gif") {
                    "gif"
                } else {
                    "mjpeg"
                },
            ],
        );
        let output = dir.path().join(format!("{name}.mp4"));
        let out = brushwork(&[
            &"video",
            &input,
            &"-o",
            &output,
            &"-s",
            &"towers",
            &"--device",
            &"cpu",
        ]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("5 frames ->"),
            "{name}: {}",
            stderr(&out)
        );
        assert!(
            streams(&output).starts_with("video,64,48,5"),
            "{name}: {}",
            streams(&output)
        );
    }
}

/// Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) each stop the encoder, remove the
/// unfinished file and end with 128 + the signal's number.
#[test]
fn video_interrupted_leaves_nothing_behind() {
    if !have("ffmpeg") {
        skip(
            "video_interrupted_leaves_nothing_behind",
            "ffmpeg is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), 30);
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let out_dir = dir.path().join(format!("out-{signal}"));
        std::fs::create_dir(&out_dir).unwrap();
        // Like a terminal's Ctrl-C: brushwork leads its own process group, and the signal goes
        // to brushwork (its encoder has a group of its own).
        let mut cmd = Command::new(bin());
        cmd.arg("video")
            .arg(&clip)
            .arg("-o")
            .arg(out_dir.join("painted.mp4"))
            .args(["--style", "towers", "--threads", "1"])
            .stderr(std::process::Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().unwrap();
        // Wait until encoding has begun (the temporary file exists), then send the signal.
        for _ in 0..600 {
            if std::fs::read_dir(&out_dir).unwrap().next().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let out = signal_and_wait(child, signal);
        assert_eq!(
            out.status.code(),
            Some(code),
            "SIG{signal}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(&format!("interrupted by SIG{signal}")),
            "{}",
            stderr(&out)
        );
        // The encoder was killed with the run: nothing reappears a moment later.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let left: Vec<_> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "SIG{signal} left behind: {left:?}");
    }
}

/// A video whose stream holds no frame is an error, not an empty output; a finished video
/// gets the same file mode as any file the user makes.
#[test]
fn video_without_frames_and_the_output_mode() {
    if !have("ffmpeg") {
        skip(
            "video_without_frames_and_the_output_mode",
            "ffmpeg is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    make_testsrc(&empty, "size=64x64:rate=10", &["-frames:v", "0"]);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = brushwork(&[
        &"video",
        &empty,
        &"-o",
        &out_dir.join("x.mp4"),
        &"--style",
        &"towers",
    ]);
    assert_user_error(&out, "empty.mp4", &out_dir);

    let clip = make_clip(dir.path(), 1);
    let painted = out_dir.join("painted.mp4");
    let out = brushwork(&[&"video", &clip, &"-o", &painted, &"--style", &"towers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plain = out_dir.join("plain");
    std::fs::write(&plain, b"x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&painted), mode(&plain), "video mode vs a plain file's");
}
