//! Writing files so that a reader sees either the old file or the complete new one, never a
//! half-written one: write a temporary file beside the target, sync, rename.

use std::io::{self, Write};
use std::path::Path;

/// The directory a path would be written into (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks, before any work is done, that `path` could be written: its directory exists and it
/// is not itself a directory. Returns the reason it could not.
pub fn check_target(path: &Path) -> Result<(), String> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if path.is_dir() {
        return Err("is a directory".into());
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically. On failure nothing is left at `path`, and a previous
/// file there is untouched.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    check_target(path)?;
    let dir = parent_dir(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".brushwork-").suffix(".part");
    // tempfile makes private (0600) files; a result should get the user's usual mode, which
    // open(2) derives from 0666 and the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let tmp = builder
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a file in {}: {}", dir.display(), e.kind()))?;
    let mut file = tmp.as_file();
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e: io::Error| e.to_string())?;
    tmp.persist(path).map_err(|e| e.error.to_string())?;
    Ok(())
}
