//! `brushwork serve` against clients that misbehave at the socket level: one client's broken
//! connection is that connection's problem, never the server's. A minute of them at once is
//! [`crate::serve_soak`].

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::serve::{file, multipart, text, Server};
use crate::util::example;

/// Whether the server has closed `stream`: end of stream or a reset, not a read time-out.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 256];
    match std::io::Read::read(stream, &mut buf) {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Closes `stream` with a TCP reset (SO_LINGER 0) instead of an orderly close.
pub fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_LINGER");
    drop(stream);
}

/// Clients that send a request and reset the connection before, while and after the server
/// stylizes it: the server writes its answer into a reset socket, and lives on. (It used to die
/// of SIGPIPE, with every request in flight.)
#[test]
fn serve_lives_on_when_clients_reset_their_connections() {
    let mut server = Server::start(&[]);
    let photo = example("content/picabo_lava.jpg");
    let (content_type, body) = multipart(&[file("image", &photo), text("style", "towers")]);
    for wait_ms in [0, 50, 200, 400, 800, 1500] {
        // A dead server refuses the connection: the check below says so.
        let Ok(mut s) = TcpStream::connect(&server.addr) else {
            break;
        };
        let head = format!(
            "POST /v1/stylize HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            server.addr,
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&body);
        std::thread::sleep(Duration::from_millis(wait_ms));
        reset(s);
    }
    // Give the last answers time to be written into their reset sockets.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        server.still_running(),
        "the server died after clients reset their connections"
    );
    assert_eq!(server.get("/healthz").status, 200);
    let answer = server.post(
        "/v1/stylize",
        &[file("image", &photo), text("style", "towers")],
    );
    assert_eq!(answer.image().dimensions(), (792, 594));
}

/// A client sending its request head a byte at a time is never idle, yet it is cut off once
/// `--timeout` has passed without a whole head (before it has sent it all).
#[test]
fn serve_cuts_off_a_request_head_that_never_ends() {
    let server = Server::start(&["--timeout", "2"]);
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: {}\r\n\r\n",
        server.addr,
        "a".repeat(40)
    );
    let slow = TcpStream::connect(&server.addr).unwrap();
    let mut writer = slow.try_clone().unwrap();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let bytes = head.into_bytes();
    let total = bytes.len();
    let feeding = std::thread::spawn(move || {
        // A byte every 250 ms: the whole head would take about 20 s.
        for b in bytes {
            if writer.write_all(&[b]).is_err() {
                return;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let mut reader = slow;
    // The server closes the connection (an answer would be bytes; waiting longer than the
    // whole head takes would be a time-out).
    let closed = closed_by_server(&mut reader, Duration::from_secs(60));
    let sent_then = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert!(closed, "the server answered a head it never got whole");
    assert!(
        sent_then < total,
        "the whole head ({total} bytes) was sent before the server closed"
    );
    drop(reader);
    feeding.join().unwrap();
    assert_eq!(server.get("/healthz").status, 200);
}

/// Past `--max-connections`, the oldest connection still waiting for its request head makes
/// room: `/healthz` answers while the cap is full of clients that send half a head and stop.
#[test]
fn serve_makes_room_past_its_connection_cap() {
    let server = Server::start(&["--max-connections", "16"]);
    let crowd: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&server.addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Wait: ")
                .unwrap();
            // Accepted one after the other, so that "oldest" is well defined.
            std::thread::sleep(Duration::from_millis(20));
            s
        })
        .collect();
    for _ in 0..3 {
        assert_eq!(server.get("/healthz").status, 200);
    }
    // The first ones gave way: the server closed them (its idle time-out is 120 s).
    let mut first = crowd.into_iter().next().unwrap();
    assert!(closed_by_server(&mut first, Duration::from_secs(30)));
}

/// The rebinding bypasses found against the loopback guard, each through a real request: a
/// Host that only starts with "127.", a public name ending in a loopback address, two Host
/// headers, an absolute-form target naming another host, and another port.
#[test]
fn serve_refuses_every_rebinding_bypass() {
    let server = Server::start(&[]);
    let port = server.addr.rsplit(':').next().unwrap().to_string();
    let raw = |head: String| answer_head(&server.addr, &head, true);
    let status = |answer: &str| answer.split(' ').nth(1).unwrap_or("").to_string();
    let evil = format!("127.evil.example:{port}");
    let nip = format!("127.0.0.1.nip.io:{port}");
    let cases = [
        format!("GET /metrics HTTP/1.1\r\nHost: {evil}\r\nOrigin: http://{evil}\r\nConnection: close\r\n\r\n"),
        format!("GET /v1/styles HTTP/1.1\r\nHost: {nip}\r\nConnection: close\r\n\r\n"),
        format!("GET /v1/styles HTTP/1.1\r\nHost: {}\r\nHost: {evil}\r\nConnection: close\r\n\r\n", server.addr),
        format!("GET http://evil.example:{port}/v1/styles HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr),
        "GET /v1/styles HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n".to_string(),
        format!("GET /v1/webcam HTTP/1.1\r\nHost: {evil}\r\nOrigin: http://{evil}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
    ];
    for head in cases {
        let answer = raw(head.clone());
        // 403 from the guard, or 400 where the HTTP layer itself refuses the request first.
        assert!(
            ["403", "400"].contains(&status(&answer).as_str()),
            "{head:?} got {answer:?}"
        );
    }
    let ok = raw(format!(
        "GET /v1/styles HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://localhost:{port}\r\nConnection: close\r\n\r\n"
    ));
    assert_eq!(status(&ok), "200", "{ok}");
}

/// The server takes the command line's rules: a field given twice is refused (the command line
/// refuses a repeated option), a style name cannot lead out of a directory, any finite weights
/// blend, and a bad preset weight says what is wrong with it.
#[test]
fn serve_fields_follow_the_command_lines_rules() {
    let server = Server::start(&[]);
    let photo = example("content/golden_gate_sq.jpg");
    let painting = example("styles/towers_1916_sq.jpg");
    let stylize = |extra: Vec<crate::serve::Part>| {
        let mut parts = vec![file("image", &photo), text("style", "towers")];
        parts.extend(extra);
        server.post("/v1/stylize", &parts)
    };
    for field in [
        "strength",
        "format",
        "weights",
        "preserve_color",
        "max_size",
    ] {
        let value = match field {
            "format" => "png",
            "preserve_color" => "true",
            "max_size" => "100",
            _ => "1",
        };
        stylize(vec![text(field, value), text(field, value)])
            .assert_error(400, &format!("{field} is given twice"));
    }
    let twice = server.post(
        "/v1/embed",
        &[
            file("image", &painting),
            text("name", "a"),
            text("name", "b"),
        ],
    );
    twice.assert_error(400, "name is given twice");
    for name in ["../../x", "a/b", "..", &"n".repeat(201)] {
        server
            .post("/v1/embed", &[file("image", &painting), text("name", name)])
            .assert_error(400, "a style name is a plain file name");
    }
    let two = |weights: &str| {
        let parts = vec![
            file("image", &photo),
            text("style", "towers"),
            text("style", "bricks"),
            text("weights", weights),
        ];
        server.post("/v1/stylize", &parts).image()
    };
    let even = two("1,1");
    assert_eq!(two("1e308,1e308"), even);
    assert_eq!(two("1e-46,1e-46"), even);
    server
        .post(
            "/v1/stylize",
            &[file("image", &photo), text("preset", "3:NaN")],
        )
        .assert_error(400, "not a finite number");
}

/// Sends `head` (and nothing more; `then_wait: false` also closes the sending side) and
/// returns the answer's head, read until it is in (a refused upgrade may keep the connection
/// open).
fn answer_head(addr: &str, head: &str, then_wait: bool) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    if !then_wait {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match std::io::Read::read(&mut s, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status of the answer to `head` (see [`answer_head`]).
pub fn status_of(addr: &str, head: &str, then_wait: bool) -> String {
    let answer = answer_head(addr, head, then_wait);
    answer.split(' ').nth(1).unwrap_or("").to_string()
}

/// A body that cannot be read is the client's problem, with the status that says why: over
/// the limit 413, stopped arriving 408 (or 503 when the request's time is up first), cut short
/// or badly chunked 400. Never 500.
#[test]
fn serve_answers_unreadable_bodies_with_the_clients_status() {
    let server = Server::start(&["--timeout", "2", "--max-upload", "1MiB"]);
    let form = "multipart/form-data; boundary=b";
    let start = "--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\n";
    let over = format!(
        "POST /v1/stylize HTTP/1.1\r\nHost: {}\r\nContent-Type: {form}\r\nContent-Length: 10000000\r\n\r\n{start}",
        server.addr
    );
    assert_eq!(status_of(&server.addr, &over, true), "413");
    let stalled = format!(
        "POST /v1/stylize HTTP/1.1\r\nHost: {}\r\nContent-Type: {form}\r\nContent-Length: 5000\r\n\r\n{start}",
        server.addr
    );
    let status = status_of(&server.addr, &stalled, true);
    assert!(["408", "503"].contains(&status.as_str()), "{status}");
    let cut = status_of(&server.addr, &stalled, false);
    assert_eq!(cut, "400");
    let chunked = format!(
        "POST /v1/stylize HTTP/1.1\r\nHost: {}\r\nContent-Type: {form}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{start}\r\n",
        server.addr
    );
    assert_eq!(status_of(&server.addr, &chunked, true), "400");
    assert_eq!(server.get("/healthz").status, 200);
}

/// The operator's models are not the client's doing: without the preset network /v1/styles
/// lists no presets, and a broken one is a 500. Too-large answers name the request's field
/// (`max_size`), not a command-line flag.
#[test]
fn serve_blames_its_models_on_itself_and_names_request_fields() {
    let models = crate::util::int8_only_models();
    let server = Server::start(&["--models", models.path().to_str().unwrap()]);
    assert_eq!(server.get("/v1/styles").json()["presets"], 0);
    drop(server);
    std::fs::write(models.path().join("multistyle26.onnx"), b"not a model").unwrap();
    let server = Server::start(&["--models", models.path().to_str().unwrap()]);
    let photo = example("content/golden_gate_sq.jpg");
    let answer = server.post("/v1/stylize", &[file("image", &photo), text("preset", "3")]);
    assert_eq!(answer.status, 500, "{}", answer.text());
    drop(server);

    let server = Server::start(&["--max-megapixels", "0.05"]);
    let answer = server.post(
        "/v1/stylize",
        &[file("image", &photo), text("style", "towers")],
    );
    answer.assert_error(413, "whatever max_size says");
    assert!(!answer.text().contains("--max-size"), "{}", answer.text());
}
