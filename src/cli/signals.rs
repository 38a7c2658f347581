//! SIGINT, SIGTERM and SIGHUP: whatever brushwork is doing, it kills its encoder children,
//! removes its unfinished temporary files and ends with 128 + the signal's number (130, 143,
//! 129), as shells expect. No command leaves a `.brushwork-*` file behind.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Starts the thread that waits for the signals. Call once, early in `main`.
pub fn install() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return; // without handlers the signals keep their default action
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
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
