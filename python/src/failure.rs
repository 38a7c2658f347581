//! Errors on their way to Python: the library's one-line messages, sorted into the package's
//! `InputError` (the user can fix it) and `EngineError` (the machine's or installation's).

use std::error::Error as StdError;

use brushwork::images::ImageError;
use brushwork::look::values::ValueError;
use brushwork::presets::PresetError;
use brushwork::style::BlendError;
use brushwork::style_file::StyleFileError;
use brushwork::style_source::StyleSourceError;
use brushwork::StylizeError;
use pyo3::prelude::*;

/// An error on its way to Python: its one-line message (the command line's, after
/// `brushwork: error: `) and whether the user can fix it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) user: bool,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn user(message: impl Into<String>) -> Failure {
        Failure {
            user: true,
            message: message.into(),
        }
    }

    pub(crate) fn engine(message: impl Into<String>) -> Failure {
        Failure {
            user: false,
            message: message.into(),
        }
    }

    /// A library error, with its causes on one line, as the command line prints it.
    pub(crate) fn of(err: &(dyn StdError + 'static), user: bool) -> Failure {
        Failure {
            user,
            message: one_line(err),
        }
    }

    /// The message behind `prefix: ` (the command line's context), once.
    pub(crate) fn within(mut self, prefix: &str) -> Failure {
        if !self.message.starts_with(prefix) {
            self.message = format!("{prefix}: {}", self.message);
        }
        self
    }

    /// A panic caught on its way out: a bug of brushwork's, never the user's.
    pub(crate) fn panic(payload: Box<dyn std::any::Any + Send>) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Failure::engine(format!(
            "internal error in brushwork (please report it): {what}"
        ))
    }
}

/// The error and its causes on one line, each cause once (the command line's `one_line`).
fn one_line(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(e) = cause {
        let s = e.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cause = e.source();
    }
    parts.join(": ")
}

/// Each library error says whether it is the user's to fix; the command line's exit status 2
/// is `InputError` here, its 1 `EngineError`.
macro_rules! failure_from {
    ($($t:ty => |$e:ident| $user:expr),* $(,)?) => {$(
        impl From<$t> for Failure {
            fn from($e: $t) -> Failure {
                let user = $user;
                Failure::of(&$e, user)
            }
        }
    )*};
}

failure_from! {
    StylizeError => |e| e.is_user_error(),
    StyleSourceError => |e| e.is_user_error(),
    ImageError => |e| e.is_user_error(),
    StyleFileError => |_e| true,
    BlendError => |_e| true,
    PresetError => |_e| true,
    ValueError => |_e| true,
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        let class = if f.user { "InputError" } else { "EngineError" };
        Python::attach(|py| {
            match py
                .import("brushwork._errors")
                .and_then(|m| m.getattr(class))
                .and_then(|c| c.call1((f.message.clone(),)))
            {
                Ok(exc) => PyErr::from_value(exc),
                Err(e) => e,
            }
        })
    }
}
