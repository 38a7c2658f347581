//! Writing files so that a reader sees either the old file or the complete new one, never a
//! half-written one: write a temporary file beside the target, sync, rename.
//!
//! Every temporary file is registered while it exists, so that a process ended by a signal can
//! remove them all first ([`remove_all_temporaries`], called by the binary's signal handler).
//! Output directories made for a run are removed again if the run wrote nothing into them
//! ([`OutputDir`]).

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary files that exist now, the output directories this run made (innermost
/// first), and whether the process is ending.
struct Registry {
    paths: BTreeSet<PathBuf>,
    dirs: Vec<PathBuf>,
    ending: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    paths: BTreeSet::new(),
    dirs: Vec::new(),
    ending: false,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every registered temporary file and refuses to create new ones from then on. For a
/// signal handler that is about to end the process; returns how many files it removed.
pub fn remove_all_temporaries() -> usize {
    let mut reg = registry();
    reg.ending = true;
    let mut removed = 0;
    for p in std::mem::take(&mut reg.paths) {
        if std::fs::remove_file(&p).is_ok() {
            removed += 1;
        }
    }
    // The directories the run made, if nothing landed in them (remove_dir refuses others).
    for d in std::mem::take(&mut reg.dirs) {
        let _ = std::fs::remove_dir(d);
    }
    removed
}

/// Child processes in their own process group (an encoder writing a temporary file), killed by
/// [`kill_child_groups`] before the temporary files go.
static CHILD_GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Registers a child that leads its own process group; unregistered on drop.
pub struct ChildGroup(u32);

impl ChildGroup {
    pub fn register(pid: u32) -> ChildGroup {
        CHILD_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pid);
        ChildGroup(pid)
    }
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        CHILD_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != self.0);
    }
}

/// Kills every registered child process group (SIGKILL), for a signal handler.
pub fn kill_child_groups() {
    for pid in CHILD_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        #[cfg(unix)]
        if let Ok(pid) = i32::try_from(*pid) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is
            // touched.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// A registered temporary file beside its target: removed on drop unless persisted.
pub struct Temporary {
    file: Option<tempfile::NamedTempFile>,
    path: PathBuf,
}

impl Temporary {
    /// Creates `DIR/.brushwork-XXXX<suffix>` with the mode a normal file gets (0666 less the
    /// umask; tempfile's own default is 0600).
    pub fn new_in(dir: &Path, suffix: &str) -> io::Result<Temporary> {
        let mut reg = registry();
        if reg.ending {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(".brushwork-").suffix(suffix);
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let file = builder.tempfile_in(dir)?;
        let path = file.path().to_path_buf();
        reg.paths.insert(path.clone());
        Ok(Temporary {
            file: Some(file),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn as_file(&self) -> &std::fs::File {
        self.file
            .as_ref()
            .expect("present until persisted")
            .as_file()
    }

    /// Renames the file onto `target`. Under the registry's lock, so a signal handler either
    /// removes the temporary file before the rename or finds the complete target after it.
    pub fn persist(mut self, target: &Path) -> io::Result<()> {
        hold_for_tests();
        let mut reg = registry();
        if reg.ending {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let file = self.file.take().expect("persisted once");
        file.persist(target).map_err(|e| e.error)?;
        reg.paths.remove(&self.path);
        Ok(())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let mut reg = registry();
            drop(file); // removes it
            reg.paths.remove(&self.path);
        }
    }
}

/// A test hook: `BRUSHWORK_TEST_HOLD_TEMP_MS` keeps a finished temporary file in place that
/// long before the rename, so a test can deliver a signal while one exists.
fn hold_for_tests() {
    if let Some(ms) = std::env::var("BRUSHWORK_TEST_HOLD_TEMP_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
    }
}

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
    if !dir.exists() {
        return Err(format!("{} does not exist", dir.display()));
    }
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
    write_with(path, |file| {
        file.write_all(bytes).map_err(|e| e.to_string())
    })
}

/// Like [`write()`], with the bytes written by `fill` straight into the temporary file (through
/// a buffer; the writer can seek, as some encoders need): nothing the size of the whole output
/// is held in memory.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<&std::fs::File>) -> Result<(), String>,
) -> Result<(), String> {
    check_target(path)?;
    let dir = parent_dir(path);
    let tmp = Temporary::new_in(dir, ".part")
        .map_err(|e| format!("cannot create a file in {}: {}", dir.display(), e.kind()))?;
    {
        let mut writer = io::BufWriter::new(tmp.as_file());
        fill(&mut writer)?;
        writer.flush().map_err(|e| e.to_string())?;
    }
    tmp.as_file().sync_all().map_err(|e| e.to_string())?;
    tmp.persist(path).map_err(|e| e.to_string())?;
    Ok(())
}

/// An output directory made for this run: the directories it had to create are removed again
/// on drop if they are still empty, unless [`keep`](OutputDir::keep) was called.
pub struct OutputDir {
    created: Vec<PathBuf>,
}

impl OutputDir {
    /// Creates `dir` and any missing parents, remembering which ones it made.
    pub fn create(dir: &Path) -> io::Result<OutputDir> {
        let mut missing = Vec::new();
        let mut p = Some(dir);
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            p = d.parent();
        }
        std::fs::create_dir_all(dir)?;
        // A signal may end the run before it drops this: the handler removes them then.
        registry().dirs.extend(missing.iter().cloned());
        Ok(OutputDir { created: missing })
    }

    /// Keeps the directories (something was written, or will be). A signal before anything
    /// lands in them still removes them.
    pub fn keep(&mut self) {
        self.created.clear();
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        registry().dirs.retain(|d| !self.created.contains(d));
        // Innermost first; remove_dir refuses a directory that is not empty.
        for d in &self.created {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
}

/// Refuses a plan that would write over one of its own inputs: `targets` are the files a
/// command will write, `inputs` the files it reads. Paths that do not exist yet cannot be inputs.
pub fn refuse_overwriting_inputs<'a>(
    targets: impl IntoIterator<Item = &'a Path>,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Result<(), PathBuf> {
    let inputs: Vec<PathBuf> = inputs
        .into_iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    for target in targets {
        if let Ok(t) = target.canonicalize() {
            if inputs.contains(&t) {
                return Err(target.to_path_buf());
            }
        }
    }
    Ok(())
}

/// Refuses writing files of names the caller chooses into `dir` when `dir` holds one of
/// `inputs` (compared as canonical paths, so a symlink or `..` changes nothing): `Err` with that
/// input. A `dir` that does not exist yet holds nothing.
pub fn refuse_dir_holding_inputs<'a>(
    dir: &Path,
    inputs: impl IntoIterator<Item = &'a Path>,
) -> Result<(), PathBuf> {
    let Ok(dir) = dir.canonicalize() else {
        return Ok(());
    };
    for input in inputs {
        if let Ok(i) = input.canonicalize() {
            if i.parent() == Some(dir.as_path()) {
                return Err(input.to_path_buf());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_dir_removes_only_what_it_made_and_only_when_empty() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b/c");
        drop(OutputDir::create(&deep).unwrap());
        assert!(!root.path().join("a").exists());

        let kept = root.path().join("k/l");
        let mut d = OutputDir::create(&kept).unwrap();
        d.keep();
        drop(d);
        assert!(kept.is_dir());

        let full = root.path().join("f");
        let d = OutputDir::create(&full).unwrap();
        std::fs::write(full.join("x"), b"x").unwrap();
        drop(d);
        assert!(full.join("x").is_file());
    }

    #[test]
    fn a_dropped_temporary_is_gone_and_unregistered() {
        let root = tempfile::tempdir().unwrap();
        let t = Temporary::new_in(root.path(), ".part").unwrap();
        let p = t.path().to_path_buf();
        assert!(p.exists());
        assert!(registry().paths.contains(&p));
        drop(t);
        assert!(!p.exists());
        assert!(!registry().paths.contains(&p));
    }
}
