//! Fetching OpenVINO: the wheel checked, fetched again when damaged, and a signal during a
//! fetch ending the download, whose leftovers the next fetch sweeps.

use std::process::Command;

use crate::devices::stylize_on_openvino;
use crate::util::*;

/// OpenVINO is fetched once into an empty cache (from PyPI, or pip's own cache), each library
/// checked; a cached library that is truncated, or altered at its own size, is refused with
/// downloads off and fetched again with them on.
#[test]
fn openvino_is_fetched_checked_and_fetched_again_when_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out_path = dir.path().join("out.png");
    let run = |no_download: bool| stylize_on_openvino(&out_path, &cache, no_download);
    let out = run(false);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("fetching openvino==2026.4.1 from PyPI"),
        "{err}"
    );
    let libs = cache.join("openvino-2026.4.1");
    let plugin = libs.join("libopenvino_intel_cpu_plugin.so");
    let size = std::fs::metadata(&plugin).unwrap().len();
    std::fs::remove_file(&out_path).unwrap();

    // Truncated.
    let bytes = std::fs::read(&plugin).unwrap();
    std::fs::write(&plugin, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(true);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the cached OpenVINO in")
            && err.contains("is damaged (libopenvino_intel_cpu_plugin.so is"),
        "{err}"
    );
    assert!(!out_path.exists());
    let out = run(false);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fetching it again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::metadata(&plugin).unwrap().len(), size);
    std::fs::remove_file(&out_path).unwrap();

    // Altered at the same size: caught by its sha256.
    let mut bytes = std::fs::read(&plugin).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&plugin, &bytes).unwrap();
    assert_fails_cleanly(&run(true), 1, "libopenvino_intel_cpu_plugin.so has sha256");
    assert!(!out_path.exists());
}

/// A signal during the first fetch of OpenVINO ends the download with brushwork (pip runs in a
/// process group brushwork kills), and the next fetch sweeps what the killed one left in the
/// cache. A stand-in `python3` plays pip: it leaves a partial file and takes its time.
#[test]
fn a_signal_during_a_fetch_ends_the_download_and_the_next_fetch_sweeps_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let fake = bin_dir.join("python3");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         # pip download stand-in: a partial file in -d DIR, its pid, then a long wait\n\
         [ -n \"$FAKE_PIP_FAIL\" ] && { echo 'ERROR: no network' >&2; exit 1; }\n\
         while [ $# -gt 0 ]; do [ \"$1\" = -d ] && d=$2; shift; done\n\
         echo partial > \"$d/partial.whl\"\n\
         echo $$ > \"$FAKE_PIP_PID\"\n\
         sleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = dir.path().join("cache");
    let pid_file = dir.path().join("pip.pid");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |fail: bool| {
        let mut cmd = Command::new(bin());
        cmd.args(["stylize", "--style", "towers", "--device", "openvino"])
            .args(["--precision", "fp32", "-o"])
            .arg(dir.path().join("out.png"))
            .arg(example("content/golden_gate_sq.jpg"))
            .env("BRUSHWORK_CACHE_DIR", &cache)
            .env("ORT_DYLIB_PATH", runtime_library())
            .env("PATH", &path)
            .env("FAKE_PIP_PID", &pid_file)
            .env_remove("BRUSHWORK_OPENVINO_DIR")
            .env_remove("BRUSHWORK_NO_DOWNLOAD")
            .stderr(std::process::Stdio::piped());
        if fail {
            cmd.env("FAKE_PIP_FAIL", "1");
        }
        cmd.spawn().unwrap()
    };
    let stale = || -> Vec<String> {
        std::fs::read_dir(cache.join("openvino-2026.4.1"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let child = run(false);
    let mut started = false;
    for _ in 0..2400 {
        if pid_file.exists() && !std::fs::read_to_string(&pid_file).unwrap().is_empty() {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(started, "the stand-in pip never ran");
    let out = signal_and_wait(child, "TERM");
    assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    // Killed with its group: gone, or a zombie waiting to be reaped, within a few seconds.
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
    };
    let mut gone = false;
    for _ in 0..200 {
        if !alive() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(gone, "pip (pid {pid}) outlived brushwork");
    // The killed fetch's download folder: the signal thread ends the process while the main
    // thread, its pip gone, may already have removed it (seen both ways in CI). A
    // fetch killed outright (SIGKILL, a power cut) always leaves it: one stands in for that, so
    // that the sweep below always has something to sweep.
    let left = stale();
    assert!(left.len() <= 1, "the killed fetch left {left:?}");
    if left.is_empty() {
        let planted = cache.join("openvino-2026.4.1").join(".tmpKilled");
        std::fs::create_dir_all(&planted).unwrap();
        std::fs::write(planted.join("partial.whl"), "partial").unwrap();
    }
    assert_eq!(stale().len(), 1, "{:?}", stale());
    // The next fetch (whose pip fails at once here) sweeps it, and leaves nothing of its own.
    let out = run(true).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // pip's own reason, not advice to install pip.
    assert!(
        stderr(&out).contains("ERROR: no network") && !stderr(&out).contains("install python3"),
        "{}",
        stderr(&out)
    );
    assert!(stale().is_empty(), "left {:?}", stale());
}
