//! Command-line arguments, dispatch and exit codes.

mod bench;
mod embed;
mod engine_args;
mod info;
mod interpolate;
mod live;
mod presets;
mod serve;
pub mod sheet;
pub mod signals;
mod style_args;
mod styles;
mod stylize;
mod video;

use std::process::ExitCode;

use brushwork::images::ImageError;
use brushwork::models::ModelError;
use brushwork::pipeline::PipelineError;
use brushwork::presets::PresetError;
use brushwork::sources::SourceError;
use brushwork::style::BlendError;
use brushwork::style_file::StyleFileError;
use brushwork::style_source::StyleSourceError;
use brushwork::video::VideoError;
use brushwork::StylizeError;
use clap::{Parser, Subcommand};

pub use engine_args::{parse_bytes, EngineArgs};

/// Exit status for anything the user can fix: bad pictures, paths or arguments (clap uses 2 for
/// bad arguments too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status for failures of the machine or the runtime.
pub const EXIT_FAILURE: u8 = 1;

/// Real-time arbitrary neural style transfer: any painting styles any photo, at full resolution.
#[derive(Debug, Parser)]
#[command(name = "brushwork", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Stylize(stylize::StylizeArgs),
    Embed(embed::EmbedArgs),
    Styles(styles::StylesArgs),
    Interpolate(interpolate::InterpolateArgs),
    Presets(presets::PresetsArgs),
    Live(live::LiveArgs),
    Video(video::VideoArgs),
    Serve(serve::ServeArgs),
    Bench(bench::BenchArgs),
    Info(info::InfoArgs),
}

impl Cli {
    /// Parses the command line. Every option that takes a value accepts one that looks like a
    /// negative number, so that `--max-size -5` meets the option's own check ("must be at
    /// least 16") instead of clap's advice to write `-- -5`, which would make it a file name.
    pub fn try_parse_args() -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        fn negatives(command: clap::Command) -> clap::Command {
            command
                .mut_args(|arg| {
                    if arg.get_action().takes_values() {
                        arg.allow_negative_numbers(true)
                    } else {
                        arg
                    }
                })
                .mut_subcommands(negatives)
        }
        Cli::from_arg_matches(&negatives(Cli::command()).try_get_matches()?)
    }
}

/// The parser of an option that takes a whole number from `min` to `max` (`None`: as large as
/// the unsigned `T` holds), whose error says so in words (clap's own says "0 is not in
/// 16..=4294967295").
pub fn whole_number<T: TryFrom<u64>>(
    min: u64,
    max: Option<u64>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        use std::num::IntErrorKind;
        // Without a maximum of its own, an option says only the bound that was crossed.
        let out_of_range = |low: bool| match (max, low) {
            (Some(max), _) => format!("must be from {min} to {max}"),
            (None, true) => format!("must be at least {min}"),
            (None, false) => format!("must be at most {}", largest::<T>()),
        };
        let n: i128 = s
            .trim()
            .parse()
            .map_err(|e: std::num::ParseIntError| match e.kind() {
                IntErrorKind::PosOverflow => out_of_range(false),
                IntErrorKind::NegOverflow => out_of_range(true),
                _ => format!("'{s}' is not a whole number"),
            })?;
        if n < i128::from(min) {
            return Err(out_of_range(true));
        }
        if n > i128::from(max.unwrap_or(largest::<T>())) {
            return Err(out_of_range(false));
        }
        u64::try_from(n)
            .ok()
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| out_of_range(false))
    }
}

/// The largest value of the unsigned integer type `T`.
fn largest<T: TryFrom<u64>>() -> u64 {
    [8, 16, 32]
        .into_iter()
        .find(|&bits| T::try_from(1u64 << bits).is_err())
        .map_or(u64::MAX, |bits| (1u64 << bits) - 1)
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stylize(args) => stylize::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Styles(args) => styles::run(args),
        Command::Interpolate(args) => interpolate::run(args),
        Command::Presets(args) => presets::run(args),
        Command::Live(args) => live::run(args),
        Command::Video(args) => video::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Info(args) => info::run(args),
    }
}

/// A user-fixable problem found by the CLI itself (not by the library).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Standard output is closed or full: a failure of the run (exit 1), not a panic.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutError(pub std::io::Error);

/// Whether `err` is standard output's reader having gone (a closed pipe): the run stops with
/// exit 1 and says nothing, as `head` expects of the commands it reads from.
pub fn reader_gone(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<StdoutError>()
            .is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Ends the process for an argument error: help and version as clap prints them, and every
/// other error as brushwork's one line (clap's own message, without its usage block), exit 2.
pub fn argument_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Help and version are output like any other: one that cannot be written is a failed
        // run (exit 1), quietly when the reader has gone.
        use std::io::Write as _;
        let printed = e.print().and_then(|()| std::io::stdout().lock().flush());
        if let Err(err) = printed {
            let err = anyhow::Error::from(StdoutError(err));
            if !reader_gone(&err) {
                report(&err);
            }
            std::process::exit(i32::from(EXIT_FAILURE));
        }
        std::process::exit(0);
    }
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    say!(
        "brushwork: error: {}",
        message.strip_prefix("error: ").unwrap_or(&message)
    );
    std::process::exit(i32::from(EXIT_USAGE));
}

/// Prints what the library logs at info level and above on stderr, as `brushwork: ...` lines.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level() && metadata.target().starts_with("brushwork")
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            say!("brushwork: {}", record.args());
        }
    }

    fn flush(&self) {}
}

pub fn install_logger() {
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// Prints an error as brushwork's one line on stderr.
pub fn report(err: &anyhow::Error) {
    say!("brushwork: error: {}", one_line(err));
}

/// Refuses a plan whose outputs include one of its inputs, with the one message every command
/// gives.
pub fn refuse_overwriting_inputs<'a>(
    targets: impl IntoIterator<Item = &'a std::path::Path>,
    inputs: impl IntoIterator<Item = &'a std::path::Path>,
) -> Result<(), UsageError> {
    brushwork::atomic::refuse_overwriting_inputs(targets, inputs).map_err(|target| {
        UsageError(format!(
            "{}: refusing to overwrite an input file; choose another output",
            target.display()
        ))
    })
}

/// Refuses an output directory into which a command writes names of its own (`live
/// --record`'s `frame-NNNNNN.png`) when it holds one of the inputs, which such a name could
/// overwrite.
pub fn refuse_dir_holding_inputs<'a>(
    flag: &str,
    dir: &std::path::Path,
    inputs: impl IntoIterator<Item = &'a std::path::Path>,
) -> Result<(), UsageError> {
    brushwork::atomic::refuse_dir_holding_inputs(dir, inputs).map_err(|input| {
        UsageError(format!(
            "{flag} {}: it holds the input {}, which a recorded frame could overwrite; choose another directory",
            dir.display(),
            input.display()
        ))
    })
}

/// The name an input gets in an output directory: its whole file stem (`holiday.v1.jpg` ->
/// `holiday.v1.png`), with `ext` appended.
pub fn output_name(input: &std::path::Path, ext: &str) -> std::ffi::OsString {
    let mut name = input
        .file_stem()
        .unwrap_or(input.as_os_str())
        .to_os_string();
    name.push(".");
    name.push(ext);
    name
}

/// 2 for problems with the user's input, 1 for everything else. Each library error says which
/// it is (`is_user_error`); an error wrapped transparently is asked through its wrapper.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let user_fault = err.chain().any(|e| {
        e.is::<UsageError>()
            || e.is::<StyleFileError>()
            || e.is::<BlendError>()
            || e.is::<PresetError>()
            || e.downcast_ref::<ImageError>()
                .is_some_and(ImageError::is_user_error)
            || e.downcast_ref::<SourceError>()
                .is_some_and(SourceError::is_user_error)
            || e.downcast_ref::<PipelineError>()
                .is_some_and(PipelineError::is_user_error)
            || e.downcast_ref::<StylizeError>()
                .is_some_and(StylizeError::is_user_error)
            || e.downcast_ref::<StyleSourceError>()
                .is_some_and(StyleSourceError::is_user_error)
            || e.downcast_ref::<ModelError>()
                .is_some_and(ModelError::is_users)
            || e.downcast_ref::<VideoError>()
                .is_some_and(VideoError::is_user_error)
    });
    if user_fault {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// The error and its causes on one line.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Parses WIDTHxHEIGHT with both sides in 16..=`max`; `label` and `example` shape the error.
pub fn parse_size(s: &str, label: &str, example: &str, max: u32) -> anyhow::Result<(u32, u32)> {
    let bad = || {
        UsageError(format!(
            "{label} '{s}': use WIDTHxHEIGHT, e.g. {example}; sides 16 to {max}"
        ))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(16..=max).contains(&w) || !(16..=max).contains(&h) {
        return Err(bad().into());
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn sizes_parse_within_bounds_or_are_refused(text in "[0-9xX \\-+.]{0,16}|\\PC{0,20}") {
            match parse_size(&text, "--size", "640x480", 8192) {
                Ok((w, h)) => prop_assert!((16..=8192).contains(&w) && (16..=8192).contains(&h)),
                Err(e) => {
                    prop_assert!(!one_line(&e).contains('\n'));
                    prop_assert_eq!(exit_code(&e), EXIT_USAGE);
                }
            }
        }

        #[test]
        fn user_text_errors_are_one_line_and_exit_2(text in "\\PC{0,30}") {
            let errors: Vec<anyhow::Error> = [
                brushwork::presets::PresetMix::parse(&text).err().map(anyhow::Error::from),
                brushwork::style_source::StyleSource::parse(&format!("{text}-no-such"))
                    .err()
                    .map(anyhow::Error::from),
            ]
            .into_iter()
            .flatten()
            .collect();
            for e in errors {
                prop_assert!(!one_line(&e).contains('\n'));
                prop_assert_eq!(exit_code(&e), EXIT_USAGE, "{}", one_line(&e));
            }
        }
    }

    #[test]
    fn one_line_flattens_causes_without_repeating_them() {
        let e = anyhow::Error::from(UsageError("inner\nsecond".into())).context("outer");
        assert_eq!(one_line(&e), "outer: inner second");
    }
}
