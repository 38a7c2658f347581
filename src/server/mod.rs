//! The HTTP server behind `brushwork serve`: a web page and an HTTP API over a fixed set of
//! stylizers. It is a peer of the command line, not part of it: it takes a [`ServerConfig`]
//! (already-built [`StylizerOptions`], an address, limits) and answers with [`ServerError`];
//! the command line turns its flags into the one and the other into messages and exit codes.
//!
//! - `api`: the routes and handlers of `/v1/stylize`, `/v1/embed`, `/v1/styles`, `/healthz`,
//!   `/metrics`; `layers`: the body limit, counting and the token in front of them;
//!   `form`: the multipart form they read;
//! - `webcam`: the page's webcam over a WebSocket, latest frame wins;
//! - `pool`: the fixed set of stylizers and the bounded queue in front of them;
//! - `look_spec`: the CLI's style language as request fields;
//! - `conn`, `guard`: connection limits and time-outs, the Host/Origin checks;
//! - `frames`, `error`, `metrics`, `page`: wire formats, error answers, Prometheus, the
//!   embedded page.
//!
//! Like the rest of the library it prints nothing: what it has to say goes through `log`.

mod api;
mod conn;
mod error;
mod form;
mod frames;
mod guard;
mod layers;
mod look_spec;
mod metrics;
mod page;
mod pool;
mod state;
mod webcam;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::{StylizeError, StylizerOptions};

/// What a server serves and within which limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The stylizers' options; each worker builds its own stylizer from them.
    pub stylizer: StylizerOptions,
    /// Address and port to listen on; port 0 picks a free one (see [`Server::address`]).
    pub bind: SocketAddr,
    /// The bearer token the API, the webcam and the metrics require; `None`: no token. The
    /// server serves whatever address it is given: refusing a non-loopback address without a
    /// token is its caller's policy.
    pub token: Option<String>,
    /// Stylizers working at once; `None`: one per 4 CPU threads, at least 1.
    pub workers: Option<usize>,
    /// Requests that may wait for a free stylizer; more are answered 503 with Retry-After.
    pub queue: usize,
    /// The largest request body, in bytes; larger ones are answered 413.
    pub max_upload: u64,
    /// The largest picture a request may send, in pixels, checked before it is decoded.
    pub max_pixels: u64,
    /// How long a request may take in all, and a connection may stay idle.
    pub timeout: Duration,
    /// Connections open at once; `None`: 1024, or half the open-file limit where that is lower.
    pub max_connections: Option<usize>,
    /// Webcam WebSockets open at once; more are answered 503.
    pub max_webcams: usize,
}

/// Why a server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be listened on (in use, not this machine's, not allowed).
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start a stylizer")]
    Stylizer(#[source] StylizeError),
    #[error("a stylizer thread ended while starting")]
    WorkerLost,
    #[error("cannot start the HTTP runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the server stopped")]
    Stopped(#[source] std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A server whose address is bound and whose stylizers are ready; [`Server::serve`] runs it.
pub struct Server {
    /// Taken by [`Server::serve`].
    listener: Option<tokio::net::TcpListener>,
    address: SocketAddr,
    state: state::Shared,
    idle: Duration,
    max_connections: usize,
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::watch::Sender<Option<i32>>,
}

/// Asks a running server to stop (see [`Stopper::stop`]); clone it where the request comes
/// from (a signal handler).
#[derive(Clone)]
pub struct Stopper(tokio::sync::watch::Sender<Option<i32>>);

impl Stopper {
    /// Stops accepting connections and lets the requests in flight finish (within the
    /// timeout); [`Server::serve`] then returns `Some(code)`. Only the first request counts.
    pub fn stop(&self, code: i32) {
        self.0.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some(code);
            }
            first
        });
    }
}

impl Server {
    /// Binds the address, then starts the stylizers and waits until all are ready, so that a
    /// bad option or a port in use fails here rather than at the first request.
    pub fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = config.workers.unwrap_or((cores / 4).max(1)).max(1);
        let mut options = config.stylizer;
        if options.threads.is_none() && workers > 1 {
            // The workers share the cores rather than each taking all of them.
            options.threads = Some((cores / workers).max(1));
        }
        // Bound before anything is served: a port in use is the user's to fix.
        let listener =
            std::net::TcpListener::bind(config.bind).map_err(|source| ServerError::Bind {
                address: config.bind,
                source,
            })?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;

        let metrics = Arc::new(metrics::Metrics::new());
        let pool = pool::Pool::start(
            &options,
            workers,
            config.queue,
            pool::PictureLimits {
                max_pixels: config.max_pixels,
            },
            Arc::clone(&metrics),
        )?;
        let state = Arc::new(state::AppState {
            pool,
            metrics,
            token: config.token,
            timeout: config.timeout,
            max_upload: config.max_upload,
            max_pixels: config.max_pixels,
            webcams: Arc::new(tokio::sync::Semaphore::new(config.max_webcams)),
            loopback: address.ip().is_loopback(),
            port: address.port(),
        });
        // The network side needs few threads: the stylizers have their own.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("http")
            .build()
            .map_err(ServerError::Runtime)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        Ok(Server {
            listener: Some(listener),
            address,
            state,
            idle: config.timeout,
            max_connections: config
                .max_connections
                .unwrap_or_else(conn::default_max_connections),
            runtime,
            stop: tokio::sync::watch::channel(None).0,
        })
    }

    /// The address listened on (with the port picked when the config asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The page's address, as a browser on this machine would open it.
    pub fn url(&self) -> String {
        let address = self.address;
        let host = if address.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else if address.is_ipv6() {
            format!("[{}]", address.ip())
        } else {
            address.ip().to_string()
        };
        format!("http://{host}:{}/", address.port())
    }

    /// What the stylizers run on, e.g. "cpu fp32 (onnxruntime)".
    pub fn engine(&self) -> &str {
        &self.state.pool.engine
    }

    /// How many stylizers work at once.
    pub fn workers(&self) -> usize {
        self.state.pool.workers
    }

    /// Whether the API requires a bearer token.
    pub fn requires_token(&self) -> bool {
        self.state.token.is_some()
    }

    /// A handle that stops this server once it runs.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Serves until a [`Stopper`] asks it to stop, then finishes the requests in flight
    /// (within the timeout, plus a second) and returns the code the stopper gave; `None` if
    /// it ended otherwise. The stylizers and the runtime live on until the server is dropped,
    /// so that a caller may end the process (`_exit`) with nothing torn down under a stylizer
    /// still running (a webcam's last frame). A server serves once.
    pub fn serve(&mut self) -> Result<Option<i32>, ServerError> {
        let listener = self.listener.take().expect("a server serves once");
        let (state, idle, max_connections) =
            (Arc::clone(&self.state), self.idle, self.max_connections);
        let stopped = self.stop.subscribe();
        let served = self.runtime.block_on(async move {
            let listener = conn::Listener::new(listener, idle, max_connections);
            let mut on_stop = stopped.clone();
            let serving =
                axum::serve(listener, api::router(state)).with_graceful_shutdown(async move {
                    let _ = on_stop.wait_for(Option::is_some).await;
                    log::info!("stopping: no new connections; finishing the requests in flight");
                });
            let mut drained = stopped.clone();
            let deadline = async move {
                let _ = drained.wait_for(Option::is_some).await;
                tokio::time::sleep(idle + Duration::from_secs(1)).await;
            };
            tokio::select! {
                served = serving => served.map_err(ServerError::Stopped)?,
                () = deadline => log::info!("requests still running after --timeout; ending"),
            }
            Ok::<_, ServerError>(())
        });
        let code = *self.stop.borrow();
        served.map(|()| code)
    }
}
