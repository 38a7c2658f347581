//! SIGINT, SIGTERM and SIGHUP: whatever brushwork is doing, it kills its encoder children,
//! removes its unfinished temporary files and ends with 128 + the signal's number (130, 143,
//! 129), as shells expect. No command leaves a `.brushwork-*` file behind.

use std::sync::OnceLock;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// A command that finishes its work before ending (`serve` lets requests in flight finish)
/// registers here; the first signal then calls it instead of ending the process, and a second
/// signal ends it as usual.
static GRACEFUL: OnceLock<Box<dyn Fn(i32) + Send + Sync>> = OnceLock::new();

/// Makes the first SIGINT, SIGTERM or SIGHUP call `stop` with its number.
pub fn on_first_signal(stop: impl Fn(i32) + Send + Sync + 'static) {
    let _ = GRACEFUL.set(Box::new(stop));
}

/// Starts the thread that waits for the signals. Call once, early in `main`.
pub fn install() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return; // without handlers the signals keep their default action
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signals = signals.forever();
            let mut signal = signals.next();
            if let (Some(s), Some(stop)) = (signal, GRACEFUL.get()) {
                stop(s);
                signal = signals.next();
            }
            if let Some(signal) = signal {
                brushwork::atomic::kill_child_groups();
                let removed = brushwork::atomic::remove_all_temporaries();
                let name = match signal {
                    SIGINT => "SIGINT",
                    SIGTERM => "SIGTERM",
                    _ => "SIGHUP",
                };
                if removed > 0 {
                    say!("brushwork: interrupted by {name}; removed {removed} unfinished file(s)");
                } else {
                    say!("brushwork: interrupted by {name}");
                }
                // _exit: no atexit handlers, no destructors of ONNX Runtime racing the threads
                // that still run inferences.
                // SAFETY: ends the process; nothing is touched afterwards.
                unsafe { libc::_exit(128 + signal) }
            }
        });
    drop(spawned);
}
