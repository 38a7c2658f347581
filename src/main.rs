//! The `brushwork` command: a thin layer over the library.

/// `eprintln!` that never panics: a closed or full stderr is no reason to die.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `println!` that returns a [`cli::StdoutError`] instead of panicking when stdout is closed or
/// full (`brushwork styles > /dev/full`). For functions returning `anyhow::Result`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::StdoutError)?
    }};
}

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // SIGPIPE stays ignored (Rust's default): a write to a closed pipe or a reset socket is an
    // error where it happens, never a death by signal. `serve` lives on when a client resets
    // its connection, and every print goes through `out!`, whose error ends the run with exit
    // 1, silently when the reader has simply gone (`brushwork info | head`).
    // Before any thread starts: ONNX Runtime's telemetry is off only if this is in the
    // environment when its environment is created (see brushwork::engine::onnxruntime).
    brushwork::engine::onnxruntime::disable_telemetry();
    let args = match cli::Cli::try_parse_args() {
        Ok(args) => args,
        Err(e) => cli::argument_error(e),
    };
    cli::signals::install();
    cli::install_logger();
    let result = cli::run(args).and_then(|code| {
        // What is still buffered must reach stdout, or the run failed.
        std::io::Write::flush(&mut std::io::stdout()).map_err(cli::StdoutError)?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            if !cli::reader_gone(&err) {
                cli::report(&err);
            }
            ExitCode::from(cli::exit_code(&err))
        }
    }
}
