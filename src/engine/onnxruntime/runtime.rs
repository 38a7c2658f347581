//! ONNX Runtime: finding (or fetching) `libonnxruntime`, and the one environment per process.
//!
//! brushwork links ONNX Runtime at run time (ort's `load-dynamic`). The library is looked for in
//! this order, and the first hit wins:
//!
//! 1. `ORT_DYLIB_PATH`, when set: that file and nothing else (an error if it does not load);
//! 2. `libonnxruntime.so*` beside the `brushwork` executable;
//! 3. brushwork's cache, `$BRUSHWORK_CACHE_DIR`, else `$XDG_CACHE_HOME/brushwork`, else
//!    `~/.cache/brushwork`, under `onnxruntime-1.31.1/`;
//! 4. otherwise it is fetched once into that cache: the pinned `onnxruntime==1.31.1` wheel is
//!    downloaded from PyPI with `python3 -m pip download`, its sha256 is checked against the hash
//!    pinned here, and `libonnxruntime.so.1.31.1` is unpacked from it. Set
//!    `BRUSHWORK_NO_DOWNLOAD=1` to forbid that step.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use crate::engine::wheel::{self, cache_dir, PinnedLib, Wheel, WheelError};

/// The ONNX Runtime release brushwork fetches when none is found.
pub const ORT_VERSION: &str = "1.31.1";
/// The oldest ONNX Runtime minor version the `ort` crate accepts (1.x).
pub const ORT_MIN_MINOR: u32 = 31;

const WHEELS: &[Wheel] = &[
    Wheel {
        arch: "x86_64",
        requirement: "onnxruntime==1.31.1",
        file: "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl",
        sha256: "5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f",
        lib_dir: "onnxruntime/capi",
        libs: &[PinnedLib {
            name: LIB_NAME,
            size: 29_352_200,
            sha256: "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3",
        }],
    },
    Wheel {
        arch: "aarch64",
        requirement: "onnxruntime==1.31.1",
        file: "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_aarch64.whl",
        sha256: "da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3",
        lib_dir: "onnxruntime/capi",
        libs: &[PinnedLib {
            name: LIB_NAME,
            size: 25_265_040,
            sha256: "8aa3b76b28c778a2b1dd660d34161adb1d508c9ccd04ff9dc80e26eca5df8467",
        }],
    },
];

fn this_platform_wheel() -> Result<&'static Wheel, RuntimeError> {
    wheel::for_this_platform(WHEELS).ok_or_else(|| {
        RuntimeError::UnsupportedPlatform(format!(
            "{}-{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })
}
const LIB_NAME: &str = "libonnxruntime.so.1.31.1";

/// What can go wrong while bringing up ONNX Runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("ONNX Runtime at {path} is version {found}; brushwork needs 1.{ORT_MIN_MINOR} or newer: unset ORT_DYLIB_PATH to let brushwork fetch {ORT_VERSION}, or point it at a newer libonnxruntime (pip install 'onnxruntime>=1.{ORT_MIN_MINOR}')")]
    TooOld { path: PathBuf, found: String },
    #[error("cannot load ONNX Runtime from {path}: {reason}; point ORT_DYLIB_PATH at a libonnxruntime.so of version 1.{ORT_MIN_MINOR} or newer (pip install 'onnxruntime>=1.{ORT_MIN_MINOR}' ships one)")]
    Load { path: PathBuf, reason: String },
    #[error("{path} is not a usable ONNX Runtime library: {reason}; point ORT_DYLIB_PATH at an intact libonnxruntime.so (pip install 'onnxruntime>=1.{ORT_MIN_MINOR}' ships one)")]
    Damaged { path: PathBuf, reason: String },
    #[error("the cached ONNX Runtime at {path} is damaged ({reason}) and BRUSHWORK_NO_DOWNLOAD is set; delete it, or unset BRUSHWORK_NO_DOWNLOAD to fetch it again")]
    DamagedCache { path: PathBuf, reason: String },
    #[error("ONNX Runtime was not found and BRUSHWORK_NO_DOWNLOAD is set; set ORT_DYLIB_PATH to a libonnxruntime.so (pip install onnxruntime=={ORT_VERSION} ships one), or unset BRUSHWORK_NO_DOWNLOAD")]
    NotFound,
    #[error("no pinned ONNX Runtime wheel for this platform ({0}); install onnxruntime>=1.{ORT_MIN_MINOR} and set ORT_DYLIB_PATH to its libonnxruntime")]
    UnsupportedPlatform(String),
    #[error("fetching ONNX Runtime {ORT_VERSION} failed: {0}; or set ORT_DYLIB_PATH to a libonnxruntime.so")]
    Fetch(#[from] WheelError),
    #[error("ONNX Runtime failed to start")]
    Ort(#[from] ort::Error),
}

impl From<RuntimeError> for crate::engine::interface::EngineError {
    fn from(e: RuntimeError) -> Self {
        crate::engine::interface::EngineError::Library(Box::new(e))
    }
}

/// Where the library came from, for `brushwork info` and `-v`.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    pub path: PathBuf,
    /// From the library's file name where it carries one.
    pub version: String,
    /// ONNX Runtime's own build description.
    pub build: String,
}

struct Loaded {
    env: Environment,
    info: RuntimeInfo,
}

static RUNTIME: OnceLock<Loaded> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// The process-wide ONNX Runtime environment, created on first use.
pub fn environment() -> Result<&'static Environment, RuntimeError> {
    Ok(&loaded()?.env)
}

/// The loaded library's path and version (loading it if needed).
pub fn info() -> Result<&'static RuntimeInfo, RuntimeError> {
    Ok(&loaded()?.info)
}

fn loaded() -> Result<&'static Loaded, RuntimeError> {
    if let Some(l) = RUNTIME.get() {
        return Ok(l);
    }
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = RUNTIME.get() {
        return Ok(l);
    }
    let path = locate()?;
    disable_telemetry();
    let builder = ort::init_from(&path).map_err(|e| load_error(&path, e))?;
    let env = builder
        .with_name("brushwork")
        .with_telemetry(false)
        .build()?;
    let info = RuntimeInfo {
        version: version_of(&path),
        build: ort::info().to_string(),
        path,
    };
    Ok(RUNTIME.get_or_init(|| Loaded { env, info }))
}

/// ONNX Runtime 1.31 records a `ProcessInfo` event (a device id, the machine, the program's
/// path) in `~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db` when its
/// environment is created, and later tries to upload it; the API's `DisableTelemetryEvents`
/// (ort's `with_telemetry(false)`) comes too late to stop either. Its own switch is the
/// environment variable `ORT_DISABLE_TELEMETRY=1`, read when the environment is created, so it
/// is set here first (and under the name later sources use), unless the user set it. The
/// binary sets it at the start of `main`, before any thread exists; a library user who starts
/// threads that read the environment should set it before that too.
pub fn disable_telemetry() {
    for name in ["ORT_DISABLE_TELEMETRY", "ORT_TELEMETRY_DISABLED"] {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, "1");
        }
    }
}

/// The release number in a versioned file name (`libonnxruntime.so.1.31.1` -> `1.31.1`). The
/// loader has already refused anything older than 1.31, whatever its name.
fn version_of(path: &Path) -> String {
    let resolved = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    resolved
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once(".so."))
        .map(|(_, v)| v.to_string())
        .filter(|v| v.split('.').all(|p| p.parse::<u32>().is_ok()))
        .unwrap_or_else(|| format!("1.{ORT_MIN_MINOR} or newer"))
}

fn load_error(path: &Path, e: ort::LoadDynamicError) -> RuntimeError {
    match e {
        ort::LoadDynamicError::BadVersion { version_str, path } => RuntimeError::TooOld {
            path,
            found: version_str,
        },
        other => RuntimeError::Load {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// Finds the library by the rules in the module docs, fetching it if allowed.
///
/// A library named by `ORT_DYLIB_PATH` or found beside the executable is checked to be a whole
/// ELF file first (a truncated one would crash the process with SIGBUS when mapped). The cached
/// one is checked against the size and sha256 pinned here, and fetched again if it is damaged.
pub fn locate() -> Result<PathBuf, RuntimeError> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        wheel::check_elf(&p).map_err(|reason| RuntimeError::Damaged {
            path: p.clone(),
            reason,
        })?;
        return Ok(p);
    }
    if let Some(p) = beside_executable() {
        wheel::check_elf(&p).map_err(|reason| RuntimeError::Damaged {
            path: p.clone(),
            reason,
        })?;
        return Ok(p);
    }
    let cached = cache_dir()
        .join(format!("onnxruntime-{ORT_VERSION}"))
        .join(LIB_NAME);
    let no_download = wheel::downloads_forbidden();
    if cached.exists() {
        match verify_cached(&cached) {
            Ok(()) => return Ok(cached),
            Err(reason) if no_download => {
                return Err(RuntimeError::DamagedCache {
                    path: cached,
                    reason,
                })
            }
            // Fetched again under the fetch lock, which checks it once more: another process
            // may be unpacking it right now, and nothing is removed outside that lock.
            Err(_) => {}
        }
    }
    if no_download {
        return Err(RuntimeError::NotFound);
    }
    fetch_into(&cached)?;
    Ok(cached)
}

/// Checks the cached library against the pinned size and sha256.
fn verify_cached(lib: &Path) -> Result<(), String> {
    let wheel = this_platform_wheel().map_err(|e| e.to_string())?;
    let dir = lib.parent().expect("cache path has a parent");
    wheel::verify(dir, &wheel.libs[0])
}

fn beside_executable() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    crate::files::last_with_prefix(exe.parent()?, "libonnxruntime.so")
}

/// Fetches the pinned wheel into the cache and unpacks the library.
fn fetch_into(dest: &Path) -> Result<(), RuntimeError> {
    let dir = dest.parent().expect("cache path has a parent");
    wheel::fetch_into(dir, this_platform_wheel()?)?;
    Ok(())
}
