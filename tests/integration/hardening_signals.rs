//! Hardening against signals and pipes: a signal during a write leaves nothing behind, a full
//! stdout or stderr is an error and a closed pipe a quiet end, never a panic or a signal death.

use std::process::{Command, Stdio};

use crate::hardening::files_in;
use crate::util::*;

/// Ctrl-C, `kill` and a closed terminal while a result is being written: the unfinished
/// temporary file is removed and the exit status is 128 + the signal's number.
/// `BRUSHWORK_TEST_HOLD_TEMP_MS` holds the finished temporary file before its rename.
#[test]
fn signals_during_a_write_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        for command in ["stylize", "embed", "interpolate", "presets"] {
            let out_dir = dir.path().join(format!("{command}-{signal}"));
            std::fs::create_dir(&out_dir).unwrap();
            let mut cmd = Command::new(bin());
            cmd.arg(command).env("BRUSHWORK_TEST_HOLD_TEMP_MS", "30000");
            match command {
                "stylize" => cmd
                    .arg(&photo)
                    .args(["--style", "towers", "-o"])
                    .arg(out_dir.join("x.png")),
                "embed" => cmd.arg(&photo).arg("-o").arg(out_dir.join("x.style.json")),
                "interpolate" => cmd
                    .arg(&photo)
                    .args([
                        "--from",
                        "towers",
                        "--to",
                        "bricks",
                        "--steps",
                        "2",
                        "--max-size",
                        "64",
                        "-o",
                    ])
                    .arg(out_dir.join("x.png")),
                _ => cmd
                    .arg(&photo)
                    .args(["--tile", "32", "-o"])
                    .arg(out_dir.join("x.png")),
            };
            let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
            // Wait for the temporary file, then signal.
            let mut seen = false;
            for _ in 0..1200 {
                if files_in(&out_dir)
                    .iter()
                    .any(|f| f.starts_with(".brushwork-"))
                {
                    seen = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            assert!(seen, "{command}: no temporary file appeared");
            let out = signal_and_wait(child, signal);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{command} SIG{signal}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("removed 1 unfinished file"),
                "{}",
                stderr(&out)
            );
            assert!(
                files_in(&out_dir).is_empty(),
                "{command} SIG{signal} left {:?}",
                files_in(&out_dir)
            );
        }
    }
}

/// A signal during a run that made its output directory: the directory goes with the
/// unfinished file (a batch into a new directory, `embed -o DIR`).
#[test]
fn signals_remove_the_output_directories_the_run_made() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    for command in ["stylize", "embed"] {
        let new_dir = dir.path().join(format!("{command}-new/deeper"));
        let mut cmd = Command::new(bin());
        cmd.arg(command).env("BRUSHWORK_TEST_HOLD_TEMP_MS", "30000");
        match command {
            "stylize" => cmd
                .arg(&photo)
                .arg(data("content_384x384.png"))
                .args(["--style", "towers", "-o"])
                .arg(&new_dir),
            _ => cmd.arg(&photo).arg("-o").arg(&new_dir),
        };
        let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let mut seen = false;
        for _ in 0..1200 {
            if new_dir.is_dir()
                && files_in(&new_dir)
                    .iter()
                    .any(|f| f.starts_with(".brushwork-"))
            {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert!(seen, "{command}: no temporary file appeared");
        let out = signal_and_wait(child, "TERM");
        assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
        let top = dir.path().join(format!("{command}-new"));
        assert!(!top.exists(), "{command} left {}", top.display());
    }
}

/// Commands that print to standard output, each with what makes it print.
fn printing_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["styles"],
        vec!["info"],
        vec![
            "live",
            "--source",
            "pattern",
            "--size",
            "32x32",
            "--frames",
            "2",
            "--headless",
            "--json",
            "--style",
            "towers",
        ],
    ]
}

/// `> /dev/full` and a full stderr are errors, not panics.
#[test]
fn a_full_stdout_or_stderr_is_an_error_not_a_panic() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in printing_commands() {
        let out = Command::new(bin())
            .args(&args)
            .stdout(full())
            .output()
            .unwrap();
        assert_fails_cleanly(&out, 1, "cannot write to standard output");
    }
    // Help and version are output too.
    for flag in ["--help", "--version"] {
        let out = Command::new(bin())
            .arg(flag)
            .stdout(full())
            .output()
            .unwrap();
        assert_fails_cleanly(&out, 1, "cannot write to standard output");
    }
    // The error line itself cannot be written: still exit 2, no panic.
    let out = Command::new(bin())
        .args(["stylize", "missing.png", "--style", "towers", "-o", "x.png"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A reader that has gone (`brushwork info | head`): the command stops with exit 1 and says
/// nothing, never dies of SIGPIPE; a closed stderr does not stop the work.
#[test]
fn a_closed_pipe_ends_the_command_quietly_not_by_a_signal() {
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let mut commands = printing_commands();
    commands.extend([vec!["--help"], vec!["--version"]]);
    for args in commands {
        let out = Command::new(bin())
            .args(&args)
            .stdout(closed())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {:?}; stderr: {}",
            out.status,
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    // `stylize -v` talks on stderr: with nobody reading it, the picture is still made.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.png");
    let out = Command::new(bin())
        .args([
            "stylize", "-v", "--device", "cpu", "--style", "towers", "-o",
        ])
        .arg(&target)
        .arg(data("content_333x250.png"))
        .stderr(closed())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert!(target.exists());
}
