//! `brushwork serve`: its flags, and the wiring that turns them into a
//! [`brushwork::server::ServerConfig`], runs the server and maps its errors to exit codes.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use brushwork::server::{Server, ServerConfig, ServerError};
use clap::Args;

use super::{EngineArgs, UsageError};

/// Serve a web page and an HTTP API: stylize uploads, embed paintings, and repaint a browser's
/// webcam live over a WebSocket.
///
/// Open the printed address in a browser. The API: POST /v1/stylize and /v1/embed
/// (multipart/form-data), GET /v1/styles, /healthz, /metrics (Prometheus); see the README for
/// curl examples. Requests run on a fixed number of stylizers behind a bounded queue: when both
/// are full the answer is 503 with Retry-After, never an endless wait. The server keeps no
/// state between requests, so any number of them can run behind a load balancer.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on; port 0 picks a free one (the address is printed on
    /// standard output). Any address but a loopback one needs --token or --insecure-no-auth.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub bind: SocketAddr,

    /// Require this bearer token (`Authorization: Bearer TOKEN`) for the API, the webcam and
    /// the metrics; the page asks for it once. /healthz and the page itself stay open. Also
    /// read from the environment variable BRUSHWORK_TOKEN, which `ps` does not show.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Serve a non-loopback address without a token: anyone who reaches it can use it.
    #[arg(long, conflicts_with = "token")]
    pub insecure_no_auth: bool,

    /// Stylizers working at once, each with its own copy of the networks and its own
    /// --memory-budget. Default: one per 4 CPU threads, at least 1.
    #[arg(long, value_name = "N", value_parser = crate::cli::whole_number::<u16>(1, Some(256)))]
    pub workers: Option<u16>,

    /// Requests that may wait for a free stylizer; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 16, value_name = "N",
          value_parser = crate::cli::whole_number::<u16>(0, Some(4096)))]
    pub queue: u16,

    /// The largest request (photo and styles together), e.g. 32MiB or 50MB; larger ones are
    /// answered 413. It bounds memory: at most workers + queue requests are held at once.
    #[arg(long, default_value = "32MiB", value_name = "SIZE", value_parser = super::parse_bytes)]
    pub max_upload: u64,

    /// The largest picture a request may send, in megapixels (0.01 to 100), checked before it
    /// is decoded; larger ones are answered 413. A request's max_size scales down after that.
    #[arg(long, default_value_t = 24.0, value_name = "MP",
          value_parser = |s: &str| super::style_args::parse_in_range(s, 0.01, 100.0))]
    pub max_megapixels: f32,

    /// Seconds a request may take in all (upload, waiting, stylizing); then it is answered 503.
    /// A connection that sends or takes nothing for this long is closed.
    #[arg(long, default_value_t = 120, value_name = "S",
          value_parser = crate::cli::whole_number::<u64>(1, Some(3600)))]
    pub timeout: u64,

    /// Connections open at once. Over it the oldest connection still sending its request
    /// head is closed to make room, or, when every one is busy, the new one is answered 503.
    /// Default: 1024, or half the open-file limit where that is lower.
    #[arg(long, value_name = "N", value_parser = crate::cli::whole_number::<u32>(16, Some(65536)))]
    pub max_connections: Option<u32>,

    /// Webcam WebSockets open at once; more are answered 503.
    #[arg(long, default_value_t = 8, value_name = "N",
          value_parser = crate::cli::whole_number::<u16>(1, Some(1024)))]
    pub max_webcams: u16,

    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(mut args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.token.is_none() && !args.insecure_no_auth {
        args.token = std::env::var("BRUSHWORK_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
    }
    if let Some(t) = &args.token {
        if t.len() < 8 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UsageError(
                "--token: use at least 8 characters, without spaces or control characters".into(),
            )
            .into());
        }
    }
    if !args.bind.ip().is_loopback() && args.token.is_none() && !args.insecure_no_auth {
        return Err(UsageError(format!(
            "--bind {}: not a loopback address, so anyone on the network could use this server; give --token TOKEN (clients send Authorization: Bearer TOKEN) or --insecure-no-auth",
            args.bind
        ))
        .into());
    }
    let config = ServerConfig {
        stylizer: args.engine.options()?,
        bind: args.bind,
        token: args.token,
        workers: args.workers.map(usize::from),
        queue: usize::from(args.queue),
        max_upload: args.max_upload,
        max_pixels: (f64::from(args.max_megapixels) * 1e6) as u64,
        timeout: Duration::from_secs(args.timeout),
        max_connections: args.max_connections.map(|n| n as usize),
        max_webcams: usize::from(args.max_webcams),
    };
    let mut server = Server::start(config).map_err(usage_error)?;
    say!(
        "brushwork: serving on {} with {} stylizer(s) on {}, queue {}{}",
        server.address(),
        server.workers(),
        server.engine(),
        args.queue,
        if server.requires_token() {
            ", token required"
        } else {
            ""
        }
    );
    out!("{}", server.url());
    std::io::Write::flush(&mut std::io::stdout()).map_err(super::StdoutError)?;
    // On SIGTERM (or SIGINT, SIGHUP) stop accepting, let the requests in flight finish (within
    // --timeout), then end with 128 + the signal's number; a second signal ends at once.
    let stopper = server.stopper();
    super::signals::on_first_signal(move |signal| stopper.stop(signal));
    match server.serve().map_err(usage_error)? {
        None => Ok(ExitCode::SUCCESS),
        // As the other commands end on a signal: 128 + its number, and through _exit with the
        // server still alive, so that no destructor of ONNX Runtime races a stylizer thread (a
        // webcam's last frame may still be running).
        // SAFETY: ends the process; nothing is touched afterwards.
        Some(signal) => unsafe { libc::_exit(128 + signal) },
    }
}

/// A port that cannot be listened on is the user's to fix (exit 2), said in terms of the flag;
/// every other server error keeps its own message and its causes' exit code.
fn usage_error(e: ServerError) -> anyhow::Error {
    match e {
        ServerError::Bind { address, source } => {
            UsageError(format!("--bind {address}: cannot listen: {source}")).into()
        }
        e => e.into(),
    }
}
