//! `brushwork serve`'s refusals and limits: every error status with its message, a full queue
//! answered 503 rather than a slow answer, requests kept apart, and the requests in flight
//! finished on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use image::RgbImage;

use crate::serve::{assert_close, bytes, cli_stylize, file, request, text, Part, Reply, Server};
use crate::util::{bin, example};

#[test]
fn serve_refuses_bad_requests_with_the_right_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--max-megapixels", "0.3", "--max-upload", "200KB"]);
    let boat = example("content/coast_guard_boat.jpg"); // 617x823: 0.51 MP
    let small = example("content/golden_gate_sq.jpg");
    let style = || text("style", "towers");
    let cases: Vec<(Vec<Part>, u16, &str)> = vec![
        (vec![style()], 400, "no image"),
        (vec![file("image", &small)], 400, "no style"),
        (vec![file("image", &small), style(), text("colour", "x")], 400, "unknown field 'colour'"),
        (vec![file("image", &small), style(), text("strength", "2")], 400, "strength: 2 is outside 0..1"),
        (vec![file("image", &small), style(), text("weights", "1,1")], 400, "1 styles but 2 weights"),
        (vec![file("image", &small), style(), text("format", "gif")], 400, "format: 'gif'"),
        (vec![file("image", &small), style(), text("max_size", "8")], 400, "max_size: '8'"),
        (vec![file("image", &small), style(), text("preset", "3")], 400, "not both"),
        (vec![file("image", &small), text("style", "nope")], 400, "unknown built-in style 'nope'"),
        (vec![bytes("image", "notes.jpg", b"not a picture".to_vec()), style()], 400, "notes.jpg: not an image"),
        (
            vec![bytes("image", "cut.jpg", std::fs::read(&small).unwrap()[..5000].to_vec()), style()],
            400,
            "truncated",
        ),
        (
            vec![file("image", &small), bytes("style", "x.style.json", b"{\"format\": \"brushwork.style\", \"version\": 1, \"name\": \"x\", \"source\": \"\", \"model_sha256\": \"0\", \"embedding\": []}".to_vec())],
            400,
            "x.style.json",
        ),
        (vec![file("image", &boat), style()], 413, "at most 0.3 megapixels"),
        (vec![bytes("image", "big.jpg", vec![0xFF; 300_000]), style()], 413, "over the server's limit"),
    ];
    for (parts, status, needle) in cases {
        server
            .post("/v1/stylize", &parts)
            .assert_error(status, needle);
    }
    server
        .post("/v1/embed", &[text("name", "x")])
        .assert_error(400, "no image");
    server
        .post(
            "/v1/embed",
            &[file("image", &small), text("name", "a\u{7}b")],
        )
        .assert_error(400, "name:");
    server
        .get("/v1/nothing")
        .assert_error(404, "no such endpoint");
    assert_eq!(server.get("/v1/stylize").status, 405);
    let not_form = request(
        &server.addr,
        "POST",
        "/v1/stylize",
        &[("Content-Type", "text/plain")],
        b"hi",
    );
    assert!(
        not_form.status == 400 || not_form.status == 415,
        "{not_form:?}"
    );
    // Errors are counted too.
    assert!(
        server.metric("brushwork_http_errors_total{endpoint=\"/v1/stylize\",status=\"400\"}")
            >= 12.0
    );
    drop(server);

    // A token guards the API, the webcam and the metrics; /healthz and the page stay open.
    let guarded = Server::start(&["--token", "s3cret-token"]);
    guarded
        .post("/v1/stylize", &[file("image", &small), style()])
        .assert_error(401, "token");
    assert_eq!(guarded.get("/metrics").status, 401);
    assert_eq!(guarded.get("/v1/styles").status, 401);
    assert_eq!(guarded.get("/healthz").status, 200);
    assert_eq!(guarded.get("/").status, 200);
    let wrong = guarded.post_with(
        "/v1/stylize",
        &[file("image", &small), style()],
        &[("Authorization", "Bearer s3cret-tokeN")],
    );
    assert_eq!(wrong.status, 401);
    let right = guarded.post_with(
        "/v1/stylize",
        &[file("image", &small), style()],
        &[("Authorization", "Bearer s3cret-token")],
    );
    assert_eq!(right.image().dimensions(), (256, 256));
    drop(guarded);
    // The token from the environment, where `ps` does not show it.
    let child = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.1:0", "--device", "cpu"])
        .env("BRUSHWORK_TOKEN", "from-the-environment")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut env_guarded = Server {
        child,
        addr: String::new(),
    };
    let mut line = String::new();
    BufReader::new(env_guarded.child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    env_guarded.addr = line
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .into();
    assert_eq!(env_guarded.get("/v1/styles").status, 401);
    let with = request(
        &env_guarded.addr,
        "GET",
        "/v1/styles",
        &[("Authorization", "Bearer from-the-environment")],
        &[],
    );
    assert_eq!(with.status, 200);
    drop(env_guarded);

    // Bad command lines: one line and exit 2, nothing served.
    for (args, needle) in [
        (vec!["--bind", "0.0.0.0:0"], "not a loopback address"),
        (vec!["--token", "short"], "at least 8 characters"),
        (vec!["--max-upload", "12"], "has no unit"),
        (vec!["--max-megapixels", "500"], "outside"),
    ] {
        let out = Command::new(bin())
            .arg("serve")
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        crate::util::assert_fails_cleanly(&out, 2, needle);
    }
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let out = Command::new(bin())
        .args(["serve", "--bind", &port])
        .output()
        .unwrap();
    crate::util::assert_fails_cleanly(&out, 2, "cannot listen");
    // Any address with an explicit --insecure-no-auth.
    let open = Command::new(bin())
        .args([
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--insecure-no-auth",
            "--device",
            "cpu",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut open = Server {
        child: open,
        addr: String::new(),
    };
    let mut line = String::new();
    BufReader::new(open.child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
}

#[test]
fn serve_is_busy_rather_than_slow_and_keeps_requests_apart() {
    let photo = example("content/picabo_lava.jpg"); // 792x594
                                                    // One stylizer and no queue: of 6 requests at once, some get 503 at once.
    let server = Server::start(&["--workers", "1", "--queue", "0"]);
    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    server.post(
                        "/v1/stylize",
                        &[file("image", &photo), text("style", "towers")],
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let busy: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(
        ok + busy.len(),
        6,
        "only 200 or 503: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        ok >= 1 && !busy.is_empty(),
        "{ok} answered, {} busy",
        busy.len()
    );
    for b in &busy {
        b.assert_error(503, "busy");
        assert_eq!(b.header("retry-after"), Some("1"));
    }
    assert_eq!(server.get("/healthz").json()["queued"], 0);
    drop(server);

    // With a queue, concurrent requests in two styles all answer, each with its own style.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--workers", "2", "--queue", "16"]);
    let small = example("content/golden_gate_sq.jpg");
    let want: Vec<RgbImage> = ["towers", "bricks"]
        .iter()
        .map(|s| cli_stylize(dir.path(), &small, &["--style", s]))
        .collect();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (server, small, want) = (&server, &small, &want);
            s.spawn(move || {
                for i in 0..3 {
                    let which = (t + i) % 2;
                    let style = ["towers", "bricks"][which];
                    let got = server
                        .post("/v1/stylize", &[file("image", small), text("style", style)])
                        .image();
                    assert_close(&got, &want[which], 0.5, style);
                }
            });
        }
    });
    assert_eq!(
        server.metric("brushwork_http_requests_total{endpoint=\"/v1/stylize\",status=\"200\"}"),
        24.0
    );
    drop(server);

    // A connection that sends nothing is closed after --timeout, and holds nothing.
    let server = Server::start(&["--timeout", "1"]);
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        idle.read(&mut buf).unwrap_or(0),
        0,
        "the idle connection was closed"
    );
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn serve_finishes_requests_in_flight_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // A picture that takes a few seconds, so that it is surely running when the signal comes.
    let big = dir.path().join("big.jpg");
    let photo = crate::util::load(&example("content/picabo_lava.jpg"));
    image::imageops::resize(&photo, 2400, 1800, image::imageops::FilterType::Triangle)
        .save(&big)
        .unwrap();
    let mut server = Server::start(&["--workers", "1"]);
    let pid = server.child.id();
    let reply = std::thread::scope(|s| {
        let (server, big) = (&server, &big);
        let running = s.spawn(move || {
            server.post(
                "/v1/stylize",
                &[
                    file("image", big),
                    text("style", "towers"),
                    text("format", "jpg"),
                ],
            )
        });
        std::thread::sleep(Duration::from_millis(700));
        let killed = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // No new connections from now on.
        let refused = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            TcpStream::connect(&server.addr).is_err()
        });
        assert!(refused, "still accepting connections after SIGTERM");
        running.join().unwrap()
    });
    assert_eq!(reply.image().dimensions(), (2400, 1800));
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    let mut err = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("finishing the requests in flight"), "{err}");
}
