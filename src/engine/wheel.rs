//! Native libraries fetched from pinned PyPI wheels: ONNX Runtime (see [`super::onnxruntime`]) and
//! OpenVINO (see [`super::openvino`]).
//!
//! A wheel is pinned by file name and sha256, and each library taken from it by size and
//! sha256. The wheel is downloaded with `python3 -m pip download` (PyPI is reachable from
//! networks that block other CDNs), its hash checked, the libraries unpacked into a directory
//! of brushwork's cache and checked again. A library's hash is computed once: a stamp file
//! beside it records the size and modification time it was verified at.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// A pinned wheel (CPython 3.11 tag: the tag only names the wheel; the C libraries inside are
/// the same for every Python) and the libraries brushwork takes from it.
pub(crate) struct Wheel {
    pub arch: &'static str,
    /// `package==version`, as pip is asked for it.
    pub requirement: &'static str,
    pub file: &'static str,
    pub sha256: &'static str,
    /// The directory inside the wheel that holds the libraries.
    pub lib_dir: &'static str,
    pub libs: &'static [PinnedLib],
}

/// A library inside a wheel: its file name, and the size and sha256 it must have.
pub(crate) struct PinnedLib {
    pub name: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

/// Why a wheel could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum WheelError {
    /// python3, or its pip, is not there.
    #[error("{0}; install python3 with pip")]
    NoPip(String),
    /// pip ran and failed (no network, no such release...): its own last line says why.
    #[error("{0}")]
    Pip(String),
    #[error(
        "the downloaded {file} has sha256 {found}, not the pinned {expected}; refusing to use it"
    )]
    HashMismatch {
        file: String,
        found: String,
        expected: String,
    },
    #[error("the libraries unpacked from {file} are not the pinned ones: {reason}")]
    Unpacked { file: String, reason: String },
    #[error("cannot write brushwork's cache at {path}: {source}")]
    Cache { path: PathBuf, source: io::Error },
}

/// The pinned wheel for this machine's architecture (Linux only).
pub(crate) fn for_this_platform(wheels: &'static [Wheel]) -> Option<&'static Wheel> {
    let arch = std::env::consts::ARCH;
    wheels
        .iter()
        .find(|w| w.arch == arch && cfg!(target_os = "linux"))
}

/// Whether `BRUSHWORK_NO_DOWNLOAD` forbids fetching.
pub(crate) fn downloads_forbidden() -> bool {
    std::env::var_os("BRUSHWORK_NO_DOWNLOAD").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Checks one cached library against its pinned size and sha256 (the hash once, then by stamp).
pub(crate) fn verify(dir: &Path, lib: &PinnedLib) -> Result<(), String> {
    let path = dir.join(lib.name);
    let meta = fs::metadata(&path).map_err(|e| format!("{}: {e}", lib.name))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", lib.name));
    }
    if meta.len() != lib.size {
        return Err(format!(
            "{} is {} bytes, not the pinned {}",
            lib.name,
            meta.len(),
            lib.size
        ));
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp_text = format!("{} {} {}\n", meta.len(), mtime, lib.sha256);
    let stamp = dir.join(format!("{}.verified", lib.name));
    if fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_text) {
        return Ok(());
    }
    let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", lib.name))?;
    let found = hex(&Sha256::digest(&bytes));
    if found != lib.sha256 {
        return Err(format!(
            "{} has sha256 {found}, not the pinned {}",
            lib.name, lib.sha256
        ));
    }
    let _ = crate::atomic::write(&stamp, stamp_text.as_bytes());
    Ok(())
}

/// Checks that `path` is a whole ELF shared library: its header, program headers, loaded
/// segments and section headers all lie inside the file (a truncated one would crash the
/// process with SIGBUS when mapped). The error is the reason.
pub fn check_elf(path: &Path) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let len = meta.len();
    let mut file = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut header = [0u8; 64];
    use std::io::{Read, Seek, SeekFrom};
    if len < 64 || file.read_exact(&mut header).is_err() || &header[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if header[4] != 2 || header[5] != 1 {
        return Ok(()); // not 64-bit little-endian: leave the checks to the loader
    }
    let u16_at = |b: &[u8], o: usize| u64::from(u16::from_le_bytes([b[o], b[o + 1]]));
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let (phoff, shoff) = (u64_at(&header, 0x20), u64_at(&header, 0x28));
    let (phentsize, phnum) = (u16_at(&header, 0x36), u16_at(&header, 0x38));
    let (shentsize, shnum) = (u16_at(&header, 0x3A), u16_at(&header, 0x3C));
    let truncated = || format!("truncated ({len} bytes)");
    let within = |off: u64, size: u64| off.checked_add(size).is_some_and(|end| end <= len);
    if !within(phoff, phentsize * phnum) || !within(shoff, shentsize * shnum) || phentsize < 56 {
        return Err(truncated());
    }
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    file.seek(SeekFrom::Start(phoff))
        .and_then(|_| file.read_exact(&mut table))
        .map_err(|_| truncated())?;
    for ph in table.chunks_exact(phentsize as usize) {
        const PT_LOAD: u32 = 1;
        let kind = u32::from_le_bytes(ph[..4].try_into().expect("4 bytes"));
        if kind == PT_LOAD && !within(u64_at(ph, 0x08), u64_at(ph, 0x20)) {
            return Err(truncated());
        }
    }
    Ok(())
}

/// Checks every library of `wheel` in `dir`.
pub(crate) fn verify_all(dir: &Path, wheel: &Wheel) -> Result<(), String> {
    wheel.libs.iter().try_for_each(|lib| verify(dir, lib))
}

/// Removes what an earlier fetch that was killed left in `dir`: its `.tmp*` download folders.
/// Called under the fetch lock, so no other process is using them.
fn sweep_stale_downloads(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let stale = e.file_name().to_string_lossy().starts_with(".tmp")
            && e.file_type().is_ok_and(|t| t.is_dir());
        if stale {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Downloads `wheel` with pip, checks its hash and unpacks its libraries into `dir`.
/// Concurrent processes serialise on a lock file; each library appears by an atomic rename,
/// and `done` (the last one to appear) tells a process that waited that the work is done.
pub(crate) fn fetch_into(dir: &Path, wheel: &Wheel) -> Result<(), WheelError> {
    let cache_err = |source| WheelError::Cache {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(cache_err)?;
    let lock = fs::File::create(dir.join(".lock")).map_err(cache_err)?;
    lock.lock().map_err(cache_err)?;
    match verify_all(dir, wheel) {
        Ok(()) => return Ok(()), // another process fetched it while we waited
        // Libraries already there but not the pinned ones: each is replaced by a rename.
        Err(reason) if wheel.libs.iter().any(|l| dir.join(l.name).exists()) => log::warn!(
            "the cached {} in {} is damaged ({reason}); fetching it again",
            wheel.requirement,
            dir.display()
        ),
        Err(_) => {}
    }
    log::info!(
        "fetching {} from PyPI into {} (once)",
        wheel.requirement,
        dir.display()
    );
    sweep_stale_downloads(dir);
    let tmp = tempfile::tempdir_in(dir).map_err(cache_err)?;
    let platform = format!("manylinux_2_28_{}", wheel.arch);
    let mut pip = Command::new("python3");
    pip.args([
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        // Without a network, fail within a minute rather than retry for minutes (the time-out
        // is per read, so a slow download still completes).
        "--timeout",
        "20",
        "--retries",
        "2",
    ])
    .args(["--no-deps", "--only-binary=:all:", "--implementation", "cp"])
    .args([
        "--python-version",
        "3.11",
        "--abi",
        "cp311",
        "--platform",
        &platform,
    ])
    .arg("-d")
    .arg(tmp.path())
    .arg(wheel.requirement)
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    // In a process group of its own, registered so that a signal that ends brushwork ends
    // the download too (it would otherwise run on and leave its files in the cache).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut pip, 0);
    let child = pip
        .spawn()
        .map_err(|e| WheelError::NoPip(format!("cannot run python3: {e}")))?;
    let group = crate::atomic::ChildGroup::register(child.id());
    let out = child
        .wait_with_output()
        .map_err(|e| WheelError::Pip(format!("pip download did not finish: {e}")))?;
    drop(group);
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let last = msg.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        let text = format!(
            "pip download {} exited with {}: {}",
            wheel.requirement,
            out.status,
            last.trim()
        );
        return Err(if msg.contains("No module named pip") {
            WheelError::NoPip(text)
        } else {
            WheelError::Pip(text)
        });
    }
    let wheel_path = tmp.path().join(wheel.file);
    let bytes = fs::read(&wheel_path)
        .map_err(|e| WheelError::Pip(format!("pip did not produce {}: {e}", wheel.file)))?;
    let found = hex(&Sha256::digest(&bytes));
    drop(bytes);
    if found != wheel.sha256 {
        return Err(WheelError::HashMismatch {
            file: wheel.file.to_string(),
            found,
            expected: wheel.sha256.to_string(),
        });
    }
    // python3 is there (pip just ran); its zipfile unpacks without another dependency here.
    let script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor name in sys.argv[3:]:\n    open(sys.argv[2] + '/' + name.rsplit('/', 1)[-1], 'wb').write(z.read(name))";
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&wheel_path)
        .arg(tmp.path())
        .args(
            wheel
                .libs
                .iter()
                .map(|l| format!("{}/{}", wheel.lib_dir, l.name)),
        )
        .status()
        .map_err(|e| WheelError::NoPip(format!("cannot run python3: {e}")))?;
    let unpacked_err = |reason: String| WheelError::Unpacked {
        file: wheel.file.to_string(),
        reason,
    };
    if !status.success() {
        return Err(unpacked_err("python3 could not unpack them".into()));
    }
    verify_all(tmp.path(), wheel).map_err(unpacked_err)?;
    // On disk before they are renamed into place, and the renames on disk before the cache is
    // used: a crash cannot leave a library that passes for complete but is not.
    for lib in wheel.libs {
        fs::File::open(tmp.path().join(lib.name))
            .and_then(|f| f.sync_all())
            .map_err(cache_err)?;
    }
    for lib in wheel.libs {
        fs::rename(tmp.path().join(lib.name), dir.join(lib.name)).map_err(cache_err)?;
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(cache_err)?;
    verify_all(dir, wheel).map_err(unpacked_err)?;
    log::info!("{} ready in {}", wheel.requirement, dir.display());
    Ok(())
}

/// brushwork's cache directory: `$BRUSHWORK_CACHE_DIR`, else `$XDG_CACHE_HOME/brushwork`, else
/// `~/.cache/brushwork`.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("BRUSHWORK_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("brushwork")))
        .or_else(|| env("HOME").map(|p| p.join(".cache").join("brushwork")))
        .unwrap_or_else(|| std::env::temp_dir().join("brushwork-cache"))
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
