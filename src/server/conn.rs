//! Connections: what a client may hold of the server, and for how long.
//!
//! - A connection that sends or takes nothing for the timeout (`ServerConfig::timeout`, the
//!   CLI's `--timeout`) is closed (an idle keep-alive, a client that stops reading its answer).
//! - A request's head (request line and headers) must arrive whole within the timeout of its
//!   first byte being awaited: a client sending a header byte a second is cut off, though it is
//!   never idle.
//! - At most `ServerConfig::max_connections` (`--max-connections`) are open. When a new one
//!   would pass the cap, the oldest connection still waiting for its request head gives way (a
//!   slow client holds nothing that is being worked on); when none is, the new one is answered
//!   503 and closed. So the file-descriptor limit is never reached, and `/healthz` answers
//!   through a flood of slow clients.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

type Timed = Pin<Box<tokio_io_timeout::TimeoutStream<tokio::net::TcpStream>>>;

/// The default cap: 1024, or less where the process may open fewer files (half the soft
/// limit, leaving the rest to models, libraries and the stylizers).
pub fn default_max_connections() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    (soft / 2).clamp(16, 1024)
}

/// One open connection as the listener sees it.
struct Slot {
    accepted: Instant,
    /// Waiting for (or reading) a request head.
    in_head: AtomicBool,
    /// Told to give way to a new connection: its next read fails.
    evicted: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Slot {
    fn evict(&self) {
        self.evicted.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            w.wake();
        }
    }
}

/// Accepts connections under the rules above.
pub struct Listener {
    pub inner: tokio::net::TcpListener,
    /// `--timeout`.
    pub idle: Duration,
    pub max_connections: usize,
    slots: Vec<Weak<Slot>>,
}

impl Listener {
    pub fn new(inner: tokio::net::TcpListener, idle: Duration, max_connections: usize) -> Self {
        Listener {
            inner,
            idle,
            max_connections,
            slots: Vec::new(),
        }
    }

    /// Makes room for one more connection: `false` when every open one is busy with a request.
    fn make_room(&mut self) -> bool {
        self.slots.retain(|s| s.strong_count() > 0);
        let live: Vec<Arc<Slot>> = self.slots.iter().filter_map(Weak::upgrade).collect();
        let open = live
            .iter()
            .filter(|s| !s.evicted.load(Ordering::SeqCst))
            .count();
        if open < self.max_connections {
            return true;
        }
        let oldest_waiting = live
            .iter()
            .filter(|s| s.in_head.load(Ordering::SeqCst) && !s.evicted.load(Ordering::SeqCst))
            .min_by_key(|s| s.accepted);
        match oldest_waiting {
            Some(slot) => {
                slot.evict();
                true
            }
            None => false,
        }
    }
}

/// What a connection over the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 58\r\n\r\n{\"error\":\"too many connections are open; try again soon\"}\n";

impl axum::serve::Listener for Listener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if !self.make_room() {
                        // Best effort, without waiting: the client may not be reading.
                        let _ = stream.try_write(BUSY);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
                    timed.set_read_timeout(Some(self.idle));
                    timed.set_write_timeout(Some(self.idle));
                    let slot = Arc::new(Slot {
                        accepted: Instant::now(),
                        in_head: AtomicBool::new(true),
                        evicted: AtomicBool::new(false),
                        waker: Mutex::new(None),
                    });
                    self.slots.push(Arc::downgrade(&slot));
                    let connection = Connection {
                        inner: Box::pin(timed),
                        slot,
                        head_deadline: Box::pin(tokio::time::sleep(self.idle)),
                        head_timeout: self.idle,
                        matched: 0,
                        state: State::Head,
                    };
                    return (connection, addr);
                }
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Reading a request head, under its deadline.
    Head,
    /// The head is in: reading the body, working, answering.
    Request,
    /// An answer has begun: the next read starts the next request's head.
    Answered,
    /// Switched to another protocol (the webcam's WebSocket): no more heads.
    Upgraded,
}

/// A connection with its head deadline and its place under the cap.
pub struct Connection {
    inner: Timed,
    slot: Arc<Slot>,
    head_deadline: Pin<Box<Sleep>>,
    head_timeout: Duration,
    /// How much of "\r\n\r\n" the head's last bytes matched.
    matched: usize,
    state: State,
}

fn cut(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, why.to_string())
}

impl Connection {
    /// Follows the head's bytes to its blank line.
    fn scan_head(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let want = b"\r\n\r\n"[self.matched];
            self.matched = if b == want {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.matched == 4 {
                self.matched = 0;
                self.state = State::Request;
                self.slot.in_head.store(false, Ordering::SeqCst);
                return;
            }
        }
    }
}

impl Connection {
    /// Notes an answer beginning with `bytes`: a `101` switches protocols for good, a `100
    /// Continue` lets the body follow, anything else ends the request.
    fn saw_answer(&mut self, bytes: &[u8]) {
        if self.state != State::Request || bytes.starts_with(b"HTTP/1.1 100") {
            return;
        }
        self.state = if bytes.starts_with(b"HTTP/1.1 101") {
            State::Upgraded
        } else {
            State::Answered
        };
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.slot.evicted.load(Ordering::SeqCst) {
            return Poll::Ready(Err(cut("closed to make room for a new connection")));
        }
        *this.slot.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
        if this.state == State::Answered {
            this.state = State::Head;
            this.matched = 0;
            this.slot.in_head.store(true, Ordering::SeqCst);
            let deadline = tokio::time::Instant::now() + this.head_timeout;
            this.head_deadline.as_mut().reset(deadline);
        }
        if this.state == State::Head && this.head_deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(cut("the request head took longer than --timeout")));
        }
        let before = buf.filled().len();
        let polled = this.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if this.state == State::Head {
                this.scan_head(&buf.filled()[before..]);
            }
        }
        polled
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.saw_answer(buf);
        this.inner.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        this.saw_answer(first);
        this.inner.as_mut().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
