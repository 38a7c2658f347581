//! `brushwork serve` against clients that misbehave at the socket level: one client's broken
//! connection is that connection's problem, never the server's.

use std::io::Write;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::serve::{file, multipart, text, Server};
use crate::util::example;

/// Closes `stream` with a TCP reset (SO_LINGER 0) instead of an orderly close.
fn reset(stream: TcpStream) {
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
