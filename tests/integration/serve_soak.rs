//! `brushwork serve` under a minute of good and hostile clients at once: every good request
//! answered right, every hostile one refused, the server alive and its memory bounded.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::serve::{file, multipart, text, Server};
use crate::serve_hardening::{reset, status_of};

/// A minute of well-behaved clients among clients that reset, trickle their headers, declare
/// oversize bodies and send bad WebSocket frames, against one server: afterwards it answers
/// /healthz, every well-behaved request that was served got its own correct picture, and its
/// memory grew by at most 10 %. (Each client's loop ends by itself after 60 s.)
#[test]
fn serve_soak_a_minute_of_good_and_hostile_clients() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&["--timeout", "3", "--max-connections", "64", "--queue", "4"]);
    let photo = crate::util::data("content_333x250.png");
    let expected = crate::util::stylize_to(
        dir.path(),
        "expected.png",
        &photo,
        &["--style", "towers", "--device", "cpu"],
    );
    let good = |server: &Server| {
        server.post(
            "/v1/stylize",
            &[file("image", &photo), text("style", "towers")],
        )
    };
    // Warm up, so that the memory measured first is the server's working size.
    for _ in 0..3 {
        assert_eq!(good(&server).image(), expected);
    }
    let rss_before = server.rss_kb();
    let end = Instant::now() + Duration::from_secs(60);
    let served = AtomicUsize::new(0);
    let busy = AtomicUsize::new(0);
    let wrong = AtomicBool::new(false);
    let addr = server.addr.clone();
    let (content_type, body) = multipart(&[file("image", &photo), text("style", "towers")]);
    let post_head = |len: usize| {
        format!(
            "POST /v1/stylize HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n"
        )
    };
    let hostile_rounds = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while Instant::now() < end {
                    let answer = good(&server);
                    match answer.status {
                        200 => {
                            if answer.image() != expected {
                                wrong.store(true, Ordering::SeqCst);
                            }
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        503 => {
                            busy.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        other => panic!("a well-behaved request got {other}: {}", answer.text()),
                    }
                }
            });
        }
        // Resets: a whole request, then a reset at some point of its run.
        s.spawn(|| {
            let mut k = 0u64;
            while Instant::now() < end {
                if let Ok(mut c) = TcpStream::connect(&addr) {
                    let _ = c.write_all(post_head(body.len()).as_bytes());
                    let _ = c.write_all(&body);
                    std::thread::sleep(Duration::from_millis(k * 37 % 400));
                    reset(c);
                }
                k += 1;
                hostile_rounds.fetch_add(1, Ordering::SeqCst);
            }
        });
        // Slow heads: a byte every 100 ms, cut off by the server after --timeout.
        s.spawn(|| {
            while Instant::now() < end {
                if let Ok(mut c) = TcpStream::connect(&addr) {
                    for b in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                        if Instant::now() > end || c.write_all(&[*b]).is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                hostile_rounds.fetch_add(1, Ordering::SeqCst);
            }
        });
        // Oversize bodies, declared and never sent.
        s.spawn(|| {
            while Instant::now() < end {
                let status = status_of(&addr, &post_head(1 << 30), true);
                assert_eq!(status, "413");
                hostile_rounds.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // Bad WebSocket frames: garbage, a frame before settings, bad settings.
        s.spawn(|| {
            use tungstenite::Message;
            while Instant::now() < end {
                if let Ok((mut ws, _)) = tungstenite::connect(format!("ws://{addr}/v1/webcam")) {
                    let _ = ws.send(Message::Binary(vec![7u8; 40].into()));
                    let _ = ws.send(Message::Text("{\"style\": [\"nope\"]}".into()));
                    let _ = ws.send(Message::Text("not json".into()));
                    let _ = ws.send(Message::Binary(
                        b"BWR1\x01\0\0\0\xff\xff\0\0\xff\xff\0\0".to_vec().into(),
                    ));
                    for _ in 0..4 {
                        if ws.read().is_err() {
                            break;
                        }
                    }
                    let _ = ws.close(None);
                }
                hostile_rounds.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    });
    assert!(server.still_running(), "the server died");
    assert_eq!(server.get("/healthz").status, 200);
    assert!(
        !wrong.load(Ordering::SeqCst),
        "a well-behaved request got another picture"
    );
    let served = served.load(Ordering::SeqCst);
    assert!(served > 0, "no well-behaved request was served");
    assert_eq!(good(&server).image(), expected);
    let rss_after = server.rss_kb();
    eprintln!(
        "soak: {served} good answers ({} busy), {} hostile rounds; RSS {rss_before} -> {rss_after} kB",
        busy.load(Ordering::SeqCst),
        hostile_rounds.load(Ordering::SeqCst)
    );
    assert!(
        rss_after * 10 <= rss_before * 11,
        "RSS grew from {rss_before} to {rss_after} kB"
    );
}
