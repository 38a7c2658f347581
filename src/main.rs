//! The `brushwork` command: a thin layer over the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("brushwork: error: {}", cli::one_line(&err));
            ExitCode::from(cli::exit_code(&err))
        }
    }
}
