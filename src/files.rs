//! Reading the files users hand over: regular files only, never more than a stated limit.
//!
//! A FIFO would block a batch forever and `/dev/zero` would be read without end, so anything
//! that is not a regular file is refused before it is opened, and a file is read only up to
//! the limit its kind warrants.

use std::io::{self, Read};
use std::path::Path;

/// Reads `path` whole if it is a regular file of at most `max_bytes`. A missing file keeps the
/// `NotFound` kind; the other refusals are `InvalidInput` with a message that says why.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(invalid(format!(
            "is {}, not a regular file",
            describe(&kind)
        )));
    }
    if meta.len() > max_bytes {
        return Err(invalid(format!(
            "is {}, larger than the {} brushwork reads",
            human_bytes(meta.len()),
            human_bytes(max_bytes)
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        // It grew while being read.
        return Err(invalid(format!(
            "is larger than the {} brushwork reads",
            human_bytes(max_bytes)
        )));
    }
    Ok(bytes)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// `1.5 GiB`, `64 KiB`, `900 bytes`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The last (by name) file in `dir` whose name starts with `prefix`: the newest release of a
/// versioned library name such as `libonnxruntime.so.1.31.1`.
pub fn last_with_prefix(dir: &Path, prefix: &str) -> Option<std::path::PathBuf> {
    let mut hits: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    hits.sort();
    hits.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file_or_too_big() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular(dir.path(), 10).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let f = dir.path().join("f");
        std::fs::write(&f, [0u8; 11]).unwrap();
        let e = read_regular(&f, 10).unwrap_err();
        assert!(e.to_string().contains("larger than the 10 bytes"), "{e}");
        assert_eq!(read_regular(&f, 11).unwrap().len(), 11);
        let e = read_regular(&dir.path().join("missing"), 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(human_bytes(64 * 1024), "64 KiB");
        assert_eq!(human_bytes(1536 * 1024 * 1024), "1.5 GiB");
    }
}
