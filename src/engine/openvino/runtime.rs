//! OpenVINO: finding (or fetching) its libraries, loading them once per process, and what the
//! CPU offers it.
//!
//! OpenVINO runs the transformation network for `--device openvino`, in bf16 where the CPU has
//! AVX-512 BF16 or AMX (see [`crate::engine::device`] for when `auto` picks it). It is linked at
//! run time, as ONNX Runtime is. Its libraries are looked for in this order:
//!
//! 1. `BRUSHWORK_OPENVINO_DIR`, when set: the directory holding `libopenvino_c.so*` and the
//!    libraries beside it (an OpenVINO install's `lib` directory, or a wheel's `openvino/libs`);
//! 2. brushwork's cache (see [`crate::engine::wheel::cache_dir`]), under `openvino-2026.4.1/`;
//! 3. otherwise the pinned `openvino==2026.4.1` wheel is fetched from PyPI into that cache,
//!    checked and unpacked (only the C API, the core, the CPU plugin, the ONNX reader and
//!    TBB: 92 MB). `BRUSHWORK_NO_DOWNLOAD=1` forbids that step.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::engine::wheel::{self, PinnedLib, Wheel, WheelError};

/// The OpenVINO release brushwork fetches when none is given.
pub const OPENVINO_VERSION: &str = "2026.4.1";

const WHEELS: &[Wheel] = &[Wheel {
    arch: "x86_64",
    requirement: "openvino==2026.4.1",
    file: "openvino-2026.4.1-22982-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256: "2d22b1da03f7caf74df30e9f6417d0ab2f637e4a38e08e1dcd294d2c37407aaf",
    lib_dir: "openvino/libs",
    libs: &[
        lib(
            "libopenvino.so.2641",
            20_526_937,
            "9b9a80ac1f18e07b13ed54459d9a865bcfe9dc170dbf8fe740c2974b85ecedc1",
        ),
        lib(
            "libopenvino_intel_cpu_plugin.so",
            63_691_929,
            "6599e3dd300d047b5ed72f8e48101c5f312c25321f35f57f803641ff8372900b",
        ),
        lib(
            "libopenvino_onnx_frontend.so.2641",
            6_827_321,
            "82d499f5b5e8514def7aaa1ecd5a9f570542d33ae9d00a0077f707cccd0e0192",
        ),
        // Reads compiled models back from the cache (their graphs are stored as IR).
        lib(
            "libopenvino_ir_frontend.so.2641",
            640_313,
            "554e9fd3d4a0fbc587c14379464b2324e24b8ea736cfb749ad2cd9e74dfc09e0",
        ),
        lib(
            "libtbb.so.12",
            369_313,
            "ac9518497a4f2cb6729792730f145ee58367316031511923fef263c9ac81ca61",
        ),
        lib(
            "libtbbmalloc.so.2",
            159_729,
            "0cccbdb4783bf190da19b34540fb7f749b0955ec1982d7ac8e5f398365399895",
        ),
        lib(
            "libhwloc.so.15",
            473_321,
            "e91be9f5bc1c87aadb08f2e19ebcb742979adda0a5434f72650a154e317e7fb1",
        ),
        lib(
            "libtbbbind_2_5.so.3",
            33_025,
            "179ebd1223abd20a461dc978f24090d7ef7c1308b8dff14e4adfe4a21d75543f",
        ),
        // Last: the file whose presence the loader looks for.
        lib(
            C_API_LIB,
            377_505,
            "d2d0836d422b21fc5da2739af0d6035df3fc6dd5e4756402eb848974edecf8a5",
        ),
    ],
}];

const C_API_LIB: &str = "libopenvino_c.so.2641";

const fn lib(name: &'static str, size: u64, sha256: &'static str) -> PinnedLib {
    PinnedLib { name, size, sha256 }
}

/// Why OpenVINO could not be brought up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OpenVinoError {
    #[error("OpenVINO was not found and BRUSHWORK_NO_DOWNLOAD is set; unset it to let brushwork fetch openvino=={OPENVINO_VERSION} from PyPI, or set BRUSHWORK_OPENVINO_DIR to the directory holding libopenvino_c.so")]
    NotFound,
    #[error("no pinned OpenVINO wheel for this platform ({0}); set BRUSHWORK_OPENVINO_DIR to an OpenVINO install's lib directory")]
    UnsupportedPlatform(String),
    #[error("the cached OpenVINO in {path} is damaged ({reason}) and BRUSHWORK_NO_DOWNLOAD is set; delete that directory, or unset BRUSHWORK_NO_DOWNLOAD to fetch it again")]
    DamagedCache { path: PathBuf, reason: String },
    #[error("fetching OpenVINO {OPENVINO_VERSION} failed: {0}")]
    Fetch(String),
    #[error("cannot load OpenVINO from {path}: {reason}")]
    Load { path: PathBuf, reason: String },
}

impl From<WheelError> for OpenVinoError {
    fn from(e: WheelError) -> Self {
        OpenVinoError::Fetch(e.to_string())
    }
}

/// Where OpenVINO was loaded from, for `brushwork info` and `-v`.
#[derive(Debug, Clone)]
pub struct OpenVinoInfo {
    pub dir: PathBuf,
    /// OpenVINO's own build number, e.g. `2026.4.1-22982-...`.
    pub version: String,
}

static LOADED: OnceLock<Result<OpenVinoInfo, OpenVinoError>> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Loads OpenVINO's C API once per process (fetching it if needed and allowed), and says where
/// from. A failure is remembered: the process does not try again.
pub fn load() -> Result<&'static OpenVinoInfo, OpenVinoError> {
    if let Some(l) = LOADED.get() {
        return l.as_ref().map_err(Clone::clone);
    }
    let _guard = INIT.lock().unwrap_or_else(|e| e.into_inner());
    let result = LOADED.get_or_init(|| {
        let dir = locate()?;
        let c_api = find_c_api(&dir).ok_or_else(|| OpenVinoError::Load {
            path: dir.clone(),
            reason: "no libopenvino_c.so in it".into(),
        })?;
        wheel::check_elf(&c_api).map_err(|reason| OpenVinoError::Load {
            path: c_api.clone(),
            reason,
        })?;
        // openvino-sys parses the library's version string with an unwrap: a library that is
        // not one of OpenVINO's releases (a self-built one in BRUSHWORK_OPENVINO_DIR) can
        // panic there, which becomes an error here.
        // The default hook would print the panic; the error says it in one line instead.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let loaded = std::panic::catch_unwind(|| openvino_sys::library::load_from(&c_api));
        std::panic::set_hook(hook);
        loaded
            .unwrap_or_else(|_| Err("it does not report an OpenVINO version".to_string()))
            .map_err(|reason| OpenVinoError::Load {
                path: c_api.clone(),
                reason,
            })?;
        let v = ::openvino::version();
        Ok(OpenVinoInfo {
            dir,
            version: v.build_number,
        })
    });
    result.as_ref().map_err(Clone::clone)
}

/// Whether OpenVINO is already loaded (without trying to).
pub fn loaded() -> Option<&'static OpenVinoInfo> {
    LOADED.get().and_then(|r| r.as_ref().ok())
}

fn find_c_api(dir: &Path) -> Option<PathBuf> {
    let exact = dir.join(C_API_LIB);
    if exact.is_file() {
        return Some(exact);
    }
    crate::files::last_with_prefix(dir, "libopenvino_c.so")
}

/// The directory to load OpenVINO from, by the rules in the module docs.
fn locate() -> Result<PathBuf, OpenVinoError> {
    if let Some(dir) = std::env::var_os("BRUSHWORK_OPENVINO_DIR").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let pinned = wheel::for_this_platform(WHEELS).ok_or_else(|| {
        OpenVinoError::UnsupportedPlatform(format!(
            "{}-{}",
            std::env::consts::OS,
            std::env::consts::ARCH
        ))
    })?;
    let dir = wheel::cache_dir().join(format!("openvino-{OPENVINO_VERSION}"));
    let no_download = wheel::downloads_forbidden();
    if dir.join(C_API_LIB).exists() {
        match wheel::verify_all(&dir, pinned) {
            Ok(()) => return Ok(dir),
            Err(reason) if no_download => {
                return Err(OpenVinoError::DamagedCache { path: dir, reason })
            }
            // Fetched again under the fetch lock, which checks it once more: another process
            // may be unpacking it right now, and nothing is removed outside that lock.
            Err(_) => {}
        }
    }
    if no_download {
        return Err(OpenVinoError::NotFound);
    }
    wheel::fetch_into(&dir, pinned)?;
    Ok(dir)
}

/// The CPU features that decide OpenVINO's speed here, as `/proc/cpuinfo` names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    pub avx512f: bool,
    pub avx512_vnni: bool,
    pub avx512_bf16: bool,
    pub amx_bf16: bool,
    pub amx_int8: bool,
}

impl CpuFeatures {
    /// This machine's (all false where `/proc/cpuinfo` cannot be read).
    pub fn detect() -> Self {
        let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("flags"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, f)| f.split_whitespace().collect())
            .unwrap_or_default();
        let has = |f: &str| flags.contains(&f);
        CpuFeatures {
            avx512f: has("avx512f"),
            avx512_vnni: has("avx512_vnni"),
            avx512_bf16: has("avx512_bf16"),
            amx_bf16: has("amx_bf16"),
            amx_int8: has("amx_int8"),
        }
    }

    /// Whether the CPU computes bf16 natively, the rule `auto` uses to prefer OpenVINO.
    pub fn has_bf16(self) -> bool {
        self.avx512_bf16 || self.amx_bf16
    }
}

impl std::fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (self.avx512f, "AVX-512"),
            (self.avx512_vnni, "AVX-512 VNNI"),
            (self.avx512_bf16, "AVX-512 BF16"),
            (self.amx_bf16, "AMX-BF16"),
            (self.amx_int8, "AMX-INT8"),
        ];
        let have: Vec<&str> = names.iter().filter(|(h, _)| *h).map(|(_, n)| *n).collect();
        if have.is_empty() {
            f.write_str("none of AVX-512, VNNI, BF16, AMX")
        } else {
            f.write_str(&have.join(", "))
        }
    }
}
