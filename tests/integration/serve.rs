//! `brushwork serve`: the API on loopback (every endpoint, every error status, concurrency,
//! the webcam WebSocket), and the page in a real Chromium with a fake camera.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use image::RgbImage;

use crate::util::{bin, example, have, mean_abs_diff_per_channel, skip, stderr};

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--bind", "127.0.0.1:0", "--device", "cpu"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.is_empty() {
            let out = child.wait_with_output().unwrap();
            panic!("the server did not start: {}", stderr(&out));
        }
        let addr = line
            .trim()
            .strip_prefix("http://")
            .and_then(|s| s.strip_suffix('/'))
            .unwrap_or_else(|| panic!("not an address: {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// The server's resident memory, in kB (VmRSS).
    pub fn rss_kb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Whether the server process is still alive.
    pub fn still_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn get(&self, path: &str) -> Reply {
        request(&self.addr, "GET", path, &[], &[])
    }

    pub fn post(&self, path: &str, parts: &[Part]) -> Reply {
        self.post_with(path, parts, &[])
    }

    pub fn post_with(&self, path: &str, parts: &[Part], headers: &[(&str, &str)]) -> Reply {
        let (content_type, body) = multipart(parts);
        let mut h = vec![("Content-Type", content_type.as_str())];
        h.extend_from_slice(headers);
        request(&self.addr, "POST", path, &h, &body)
    }

    /// The value of a counter or gauge line of `/metrics` (0 when absent).
    pub fn metric(&self, line_start: &str) -> f64 {
        let text = self.get("/metrics").text();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One part of a multipart form: a text field, or a file when it has a file name.
pub struct Part<'a> {
    pub name: &'a str,
    pub file_name: Option<&'a str>,
    pub data: Vec<u8>,
}

pub fn text<'a>(name: &'a str, value: &str) -> Part<'a> {
    Part {
        name,
        file_name: None,
        data: value.as_bytes().to_vec(),
    }
}

pub fn file<'a>(name: &'a str, path: &'a Path) -> Part<'a> {
    Part {
        name,
        file_name: path.file_name().and_then(|n| n.to_str()),
        data: std::fs::read(path).unwrap(),
    }
}

pub fn bytes<'a>(name: &'a str, file_name: &'a str, data: Vec<u8>) -> Part<'a> {
    Part {
        name,
        file_name: Some(file_name),
        data,
    }
}

pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "brushwork-test-boundary-7d1f";
    let mut body = Vec::new();
    for p in parts {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            p.name
        )
        .unwrap();
        if let Some(f) = p.file_name {
            write!(
                body,
                "; filename=\"{f}\"\r\nContent-Type: application/octet-stream"
            )
            .unwrap();
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn image(&self) -> RgbImage {
        assert_eq!(self.status, 200, "{}", self.text());
        image::load_from_memory(&self.body).unwrap().into_rgb8()
    }

    /// An error answer: `status`, JSON `{"error": ...}` mentioning `needle`.
    pub fn assert_error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let message = self.json()["error"].as_str().unwrap().to_string();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        assert!(!message.contains('\n'), "one line: {message:?}");
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), by hand: what any client
/// sends, without a client library's retries or conveniences.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413, 503) before it has read the body, and close.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        b = &b[line_end + 4 + size..];
    }
}

/// `brushwork stylize CONTENT ARGS -o OUT.png` on the CPU, read back.
fn cli_stylize(dir: &Path, content: &Path, args: &[&str]) -> RgbImage {
    let out = dir.join(format!(
        "cli-{}.png",
        args.join("_").replace(['/', ' '], "-")
    ));
    let run = Command::new(bin())
        .arg("stylize")
        .arg(content)
        .args(args)
        .args(["--device", "cpu", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    crate::util::load(&out)
}

fn assert_close(got: &RgbImage, want: &RgbImage, limit: f64, what: &str) {
    let d = mean_abs_diff_per_channel(got, want);
    assert!(
        d.iter().all(|&v| v < limit),
        "{what}: {d:?} per channel from the CLI's (limit {limit})"
    );
}

#[test]
fn serve_answers_what_the_cli_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&[]);
    let boat = example("content/coast_guard_boat.jpg");
    let painting = example("styles/bricks_sq.jpg");

    // /healthz and /v1/styles.
    let health = server.get("/healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let styles = server.get("/v1/styles").json();
    let names: Vec<&str> = styles["styles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"towers"), "{names:?}");
    assert_eq!(styles["presets"], 26);

    // A built-in style, full size: the CLI's picture.
    let reply = server.post(
        "/v1/stylize",
        &[file("image", &boat), text("style", "towers")],
    );
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(reply.header("x-brushwork-size"), Some("617x823"));
    let got = reply.image();
    assert_close(
        &got,
        &cli_stylize(dir.path(), &boat, &["--style", "towers"]),
        0.5,
        "towers",
    );

    // /v1/embed makes the style file `brushwork embed` makes.
    let embedded = server.post(
        "/v1/embed",
        &[file("image", &painting), text("name", "bricks")],
    );
    assert_eq!(embedded.status, 200, "{}", embedded.text());
    assert_eq!(embedded.header("content-type"), Some("application/json"));
    let ours = embedded.json();
    assert_eq!(ours["name"], "bricks");
    let cli_file = dir.path().join("bricks.style.json");
    let run = Command::new(bin())
        .arg("embed")
        .arg(&painting)
        .arg("-o")
        .arg(&cli_file)
        .args(["--device", "cpu"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cli_file).unwrap()).unwrap();
    assert_eq!(ours["model_sha256"], theirs["model_sha256"]);
    for (a, b) in ours["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .zip(theirs["embedding"].as_array().unwrap())
    {
        assert!((a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-4);
    }

    // The whole style language: a style file and a painting blended, strength, colours kept.
    let served_file = dir.path().join("served.style.json");
    std::fs::write(&served_file, &embedded.body).unwrap();
    let red = example("styles/red_texture_sq.jpg");
    let reply = server.post(
        "/v1/stylize",
        &[
            file("image", &boat),
            file("style", &served_file),
            file("style", &red),
            text("weights", "0.7,0.3"),
            text("strength", "0.6"),
            text("preserve_color", "true"),
        ],
    );
    let want = cli_stylize(
        dir.path(),
        &boat,
        &[
            "--style",
            cli_file.to_str().unwrap(),
            "--style",
            red.to_str().unwrap(),
            "--weights",
            "0.7,0.3",
            "--strength",
            "0.6",
            "--preserve-color",
        ],
    );
    assert_close(&reply.image(), &want, 0.5, "blend");

    // Presets, max_size and another format.
    let reply = server.post(
        "/v1/stylize",
        &[
            file("image", &boat),
            text("preset", "3:0.5,12:0.5"),
            text("max_size", "300"),
            text("format", "jpg"),
        ],
    );
    assert_eq!(reply.header("content-type"), Some("image/jpeg"));
    let got = reply.image();
    assert_eq!(got.dimensions(), (225, 300));
    let want = cli_stylize(
        dir.path(),
        &boat,
        &["--preset", "3:0.5,12:0.5", "--max-size", "300"],
    );
    assert_close(&got, &want, 5.0, "preset as JPEG");
    let webp = server.post(
        "/v1/stylize",
        &[
            file("image", &boat),
            text("style", "bricks"),
            text("format", "webp"),
            text("max_size", "64"),
        ],
    );
    assert_eq!(webp.header("content-type"), Some("image/webp"));
    assert_eq!(webp.image().dimensions(), (48, 64));

    // Every answer is counted, by endpoint and status.
    assert_eq!(
        server.metric("brushwork_http_requests_total{endpoint=\"/v1/stylize\",status=\"200\"}"),
        4.0
    );
    assert!(server.metric("brushwork_inference_seconds_count{job=\"stylize\"}") >= 4.0);
    assert_eq!(server.metric("brushwork_queue_depth"), 0.0);
}

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

/// The next stylized frame; any error on the way fails the test.
fn next_frame(ws: &mut tungstenite::WebSocket<impl Read + Write>) -> tungstenite::Bytes {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Binary(b) => return b,
            tungstenite::Message::Text(t) => assert!(!t.contains("error"), "{t}"),
            _ => {}
        }
    }
}

fn frame_message(magic: &[u8; 4], seq: u32, w: u32, h: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = magic.to_vec();
    for v in [seq, w, h] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend_from_slice(payload);
    m
}

fn rgba(img: &RgbImage) -> Vec<u8> {
    img.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect()
}

#[test]
fn serve_webcam_stylizes_the_latest_frame() {
    use tungstenite::Message;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--workers", "1"]);
    let (mut ws, _) = tungstenite::connect(format!("ws://{}/v1/webcam", server.addr)).unwrap();
    let next_text = |ws: &mut tungstenite::WebSocket<_>| -> serde_json::Value {
        loop {
            // Skips frames and their timings.
            if let Message::Text(t) = ws.read().unwrap() {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v.get("seq").is_none() || v.get("error").is_some() {
                    return v;
                }
            }
        }
    };
    let photo = crate::util::load(&example("content/picabo_lava.jpg"));
    let photo = image::imageops::crop_imm(&photo, 0, 0, 640, 480).to_image();
    let png = dir.path().join("frame.png");
    photo.save(&png).unwrap();

    // A frame before any settings, and bad settings: errors, and the socket stays open.
    ws.send(Message::Binary(
        frame_message(b"BWR1", 1, 640, 480, &rgba(&photo)).into(),
    ))
    .unwrap();
    assert!(next_text(&mut ws)["error"]
        .as_str()
        .unwrap()
        .contains("settings"));
    ws.send(Message::Text(r#"{"style": ["nope"]}"#.into()))
        .unwrap();
    assert!(next_text(&mut ws)["error"]
        .as_str()
        .unwrap()
        .contains("unknown built-in style"));
    ws.send(Message::Text(r#"{"colour": 1}"#.into())).unwrap();
    assert!(next_text(&mut ws)["error"]
        .as_str()
        .unwrap()
        .contains("unknown field"));
    ws.send(Message::Binary(b"BWR1 short".to_vec().into()))
        .unwrap();
    assert!(next_text(&mut ws)["error"]
        .as_str()
        .unwrap()
        .contains("webcam frame"));

    ws.send(Message::Text(r#"{"style": ["towers"]}"#.into()))
        .unwrap();
    assert_eq!(next_text(&mut ws)["settings"], "ok");

    // Raw RGBA in, raw RGBA out: the CLI's picture.
    ws.send(Message::Binary(
        frame_message(b"BWR1", 7, 640, 480, &rgba(&photo)).into(),
    ))
    .unwrap();
    let reply = next_frame(&mut ws);
    assert_eq!(&reply[..4], b"BWR1");
    assert_eq!(u32::from_le_bytes(reply[4..8].try_into().unwrap()), 7);
    let got = RgbImage::from_fn(640, 480, |x, y| {
        let i = 16 + 4 * (y as usize * 640 + x as usize);
        image::Rgb([reply[i], reply[i + 1], reply[i + 2]])
    });
    let want = cli_stylize(dir.path(), &png, &["--style", "towers"]);
    assert_close(&got, &want, 0.5, "webcam raw frame");
    let stats = match ws.read().unwrap() {
        Message::Text(t) => serde_json::from_str::<serde_json::Value>(&t).unwrap(),
        other => panic!("timings expected after a frame: {other:?}"),
    };
    assert_eq!(stats["seq"], 7);
    assert!(stats["inference_ms"].as_f64().unwrap() > 0.0);

    // JPEG in, JPEG out; 12 frames at once: the latest is always answered, most are skipped.
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&photo)
        .unwrap();
    for seq in 100..112 {
        ws.send(Message::Binary(
            frame_message(b"BWJ1", seq, 640, 480, &jpeg).into(),
        ))
        .unwrap();
    }
    let mut answered = Vec::new();
    while answered.last() != Some(&111) {
        let message = ws.read().unwrap();
        if let Message::Text(t) = &message {
            assert!(!t.contains("error"), "{t}");
        }
        if let Message::Binary(b) = message {
            assert_eq!(&b[..4], b"BWJ1");
            let seq = u32::from_le_bytes(b[4..8].try_into().unwrap());
            let img = image::load_from_memory(&b[16..]).unwrap().into_rgb8();
            assert_close(&img, &want, 6.0, "webcam JPEG frame");
            answered.push(seq);
        }
    }
    assert!(
        answered.len() < 12,
        "latest frame wins: answered {answered:?}"
    );
    assert!(answered.windows(2).all(|w| w[0] < w[1]), "{answered:?}");
    assert!(server.metric("brushwork_webcam_frames_dropped_total") >= 1.0);

    // Settings change from the next frame on: strength 0 gives back nearly the photo.
    ws.send(Message::Text(
        r#"{"style": ["towers"], "strength": 0}"#.into(),
    ))
    .unwrap();
    assert_eq!(next_text(&mut ws)["settings"], "ok");
    ws.send(Message::Binary(
        frame_message(b"BWR1", 200, 640, 480, &rgba(&photo)).into(),
    ))
    .unwrap();
    let reply = next_frame(&mut ws);
    let got = RgbImage::from_fn(640, 480, |x, y| {
        let i = 16 + 4 * (y as usize * 640 + x as usize);
        image::Rgb([reply[i], reply[i + 1], reply[i + 2]])
    });
    let want0 = cli_stylize(dir.path(), &png, &["--style", "towers", "--strength", "0"]);
    assert_close(&got, &want0, 0.5, "strength 0");
    ws.close(None).unwrap();
}

/// A free port on loopback, for chromedriver.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A canvas of the page, as a picture.
async fn canvas(client: &fantoccini::Client, id: &str) -> RgbImage {
    use base64_png::decode;
    let url = client
        .execute(
            &format!("return document.getElementById('{id}').toDataURL('image/png')"),
            vec![],
        )
        .await
        .unwrap();
    decode(url.as_str().unwrap())
}

mod base64_png {
    use image::RgbImage;

    /// `data:image/png;base64,...` to a picture.
    pub fn decode(url: &str) -> RgbImage {
        let b64 = url.split_once(',').unwrap().1;
        let mut bytes = Vec::with_capacity(b64.len() * 3 / 4);
        let mut acc = 0u32;
        let mut bits = 0;
        for c in b64.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => continue,
            };
            acc = (acc << 6) | u32::from(v);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                bytes.push((acc >> bits) as u8);
            }
        }
        image::load_from_memory(&bytes).unwrap().into_rgb8()
    }
}

/// The page's `window.brushwork.stats`.
async fn stats_of(client: &fantoccini::Client) -> serde_json::Value {
    client
        .execute("return window.brushwork.stats", vec![])
        .await
        .unwrap()
}

/// Waits until `condition` (JavaScript, on the stats `s`) holds.
async fn wait_until(client: &fantoccini::Client, condition: &str) {
    let script = format!("const s = window.brushwork.stats; return {condition}");
    for _ in 0..600 {
        if client.execute(&script, vec![]).await.unwrap() == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "the page never reached {condition}: {}",
        stats_of(client).await
    );
}

/// Waits until the page's `window.brushwork.stats.frames` passes `count` (the bound is for a
/// broken page, not a speed limit).
async fn wait_frames(client: &fantoccini::Client, count: u64) -> serde_json::Value {
    for _ in 0..600 {
        let stats = client
            .execute("return window.brushwork.stats", vec![])
            .await
            .unwrap();
        if stats["frames"].as_u64().unwrap_or(0) >= count {
            return stats;
        }
        assert_eq!(stats["errors"], 0, "the page reported an error: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the page showed fewer than {count} frames in two minutes");
}

#[test]
fn serve_page_stylizes_a_fake_webcam_in_chromium() {
    let test = "serve_page_stylizes_a_fake_webcam_in_chromium";
    for tool in ["chromium", "chromedriver", "ffmpeg"] {
        if !have(tool) {
            skip(
                test,
                &format!("{tool} is not installed (Debian: chromium chromium-driver ffmpeg)"),
            );
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    // A still clip of a photo at 640x480: every frame the same, so any frame shown can be
    // compared with the CLI's picture of the frame the page sent.
    let clip = dir.path().join("clip.y4m");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-loop", "1", "-i"])
        .arg(example("content/picabo_lava.jpg"))
        .args([
            "-vf",
            "crop=640:480:0:0",
            "-t",
            "2",
            "-r",
            "15",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": [
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            format!("--use-file-for-fake-video-capture={}", clip.display()),
            "--window-size=1280,1000",
        ]}),
    );
    in_browser(
        "chromedriver",
        "started successfully",
        caps,
        Camera::Still,
        dir.path(),
    );
}

/// Firefox's fake camera is a moving pattern, not a file: the page must work the same way, and
/// show stylized frames, though no frame can be compared with the one sent.
#[test]
fn serve_page_works_in_firefox() {
    let test = "serve_page_works_in_firefox";
    for tool in ["firefox-esr", "geckodriver"] {
        if !have(tool) {
            skip(
                test,
                &format!(
                    "{tool} is not installed (Debian: firefox-esr; cargo install geckodriver)"
                ),
            );
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "firefox".into());
    caps.insert(
        "moz:firefoxOptions".into(),
        serde_json::json!({
            "args": ["-headless", "--width=1280", "--height=1000"],
            "prefs": {
                "media.navigator.streams.fake": true,
                "media.navigator.permission.disabled": true,
            },
        }),
    );
    in_browser(
        "geckodriver",
        "Listening on",
        caps,
        Camera::Moving,
        dir.path(),
    );
}

/// What the browser's camera shows.
#[derive(Clone, Copy, PartialEq)]
enum Camera {
    /// The same picture in every frame: what is shown can be compared with `stylize`.
    Still,
    /// A pattern that changes from frame to frame.
    Moving,
}

/// Starts a server and `driver` (which prints `ready` once it listens), opens a browser with
/// `caps` and runs the page through [`drive_page`].
fn in_browser(
    driver: &str,
    ready: &str,
    caps: serde_json::Map<String, serde_json::Value>,
    camera: Camera,
    dir: &Path,
) {
    let server = Server::start(&["--workers", "1"]);
    let port = free_port();
    let driver = Driver::start(driver, port, ready);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A failed assertion first ends the browser (dropping a live client can wait on it).
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let client = fantoccini::ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .expect("the WebDriver starts its browser");
            drive_page(&client, &server, dir, camera).await.unwrap();
            let _ = client.close().await;
        })
    }));
    drop(driver);
    if let Err(panic) = outcome {
        std::mem::forget(runtime);
        std::panic::resume_unwind(panic);
    }
}

/// A WebDriver in a process group of its own, so that it and the browser it started are
/// killed together when the test ends, passed or not.
struct Driver(Child);

impl Driver {
    fn start(command: &str, port: u16, ready: &str) -> Driver {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(command)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // It says so once it listens.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = lines.any(|l| l.is_ok_and(|l| l.contains(ready)));
        let driver = Driver(child);
        assert!(started, "{command} did not start");
        // Its log goes on; reading it keeps the pipe from filling.
        std::thread::spawn(move || lines.for_each(drop));
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

async fn drive_page(
    client: &fantoccini::Client,
    server: &Server,
    dir: &Path,
    camera: Camera,
) -> Result<(), fantoccini::error::CmdError> {
    use fantoccini::Locator;
    client.goto(&server.url("/")).await?;
    // The styles arrive from /v1/styles.
    let towers = client
        .wait()
        .for_element(Locator::Css("#style-a option[value='builtin:towers']"))
        .await?;
    towers.click().await?;

    // A photo through the page: the file input, /v1/stylize, the result and its download link.
    let photo_input = client.find(Locator::Id("photo-file")).await?;
    photo_input
        .send_keys(example("content/golden_gate_sq.jpg").to_str().unwrap())
        .await?;
    client
        .wait()
        .for_element(Locator::Css("#result-box:not([hidden])"))
        .await?;
    let shown = client
        .execute(
            "const i = document.getElementById('result'); return [i.naturalWidth, document.getElementById('download').href.startsWith('blob:')]",
            vec![],
        )
        .await?;
    assert_eq!(shown, serde_json::json!([256, true]));

    // The webcam, sent as JPEG (the default).
    let still = camera == Camera::Still;
    client.find(Locator::Id("cam-start")).await?.click().await?;
    let stats = wait_frames(client, 5).await;
    let sent = canvas(client, "cam-in").await;
    let shown = canvas(client, "cam-out").await;
    let png = dir.join("sent.png");
    sent.save(&png).unwrap();
    // Not the camera's picture: stylized.
    let unstyled = mean_abs_diff_per_channel(&shown, &sent);
    assert!(
        unstyled.iter().any(|&d| d > 20.0),
        "looks unstylized: {unstyled:?}"
    );
    let want = if still {
        assert_eq!(sent.dimensions(), (640, 480));
        let want = cli_stylize(dir, &png, &["--style", "towers"]);
        assert_close(&shown, &want, 8.0, "page webcam, JPEG");
        Some(want)
    } else {
        None
    };
    assert!(stats["fps"].as_f64().unwrap() > 0.0 && stats["latencyMs"].as_f64().unwrap() > 0.0);
    let text = client.find(Locator::Id("cam-stats")).await?.text().await?;
    assert!(text.contains("fps") && text.contains("latency"), "{text}");

    // Raw RGBA: the frame the page sent and the frame it shows are exact.
    client
        .execute(
            "const t = document.getElementById('transport'); t.value = 'raw'; t.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await?;
    wait_until(client, "s.transport === 'raw'").await;
    let now = stats_of(client).await["frames"].as_u64().unwrap();
    wait_frames(client, now + 2).await;
    if let Some(want) = &want {
        assert_close(
            &canvas(client, "cam-out").await,
            want,
            1.0,
            "page webcam, raw",
        );
    }

    // A slider moves the next frames: strength 0 brings the photo back.
    let slide = |value: u32| {
        format!("const s = document.getElementById('strength'); s.value = {value}; s.dispatchEvent(new Event('input'));")
    };
    client.execute(&slide(0), vec![]).await?;
    wait_until(client, "s.settingsAcked >= 2").await;
    let now = stats_of(client).await["frames"].as_u64().unwrap();
    wait_frames(client, now + 2).await;
    if still {
        let shown = canvas(client, "cam-out").await;
        let want0 = cli_stylize(dir, &png, &["--style", "towers", "--strength", "0"]);
        assert_close(&shown, &want0, 1.0, "page webcam, strength 0");
    }
    client.execute(&slide(100), vec![]).await?;
    wait_until(client, "s.settingsAcked >= 3").await;
    let now = stats_of(client).await["frames"].as_u64().unwrap();
    wait_frames(client, now + 2).await;

    // Figures, on request (scripts/serve-figures.sh): each transport for
    // BRUSHWORK_WEBCAM_FIGURES seconds, then the page's own fps and latency.
    if let Some(seconds) = std::env::var("BRUSHWORK_WEBCAM_FIGURES")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        for transport in ["jpeg", "raw"] {
            client
                .execute(
                    &format!("const t = document.getElementById('transport'); t.value = '{transport}'; t.dispatchEvent(new Event('change'));"),
                    vec![],
                )
                .await?;
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let s = stats_of(client).await;
            // Straight to the stderr handle, which libtest does not capture.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}",
                format_args!(
                    "webcam figures: 640x480 {transport}: {:.1} fps, latency {:.0} ms (median of 30), stylize {:.0} ms, {} frames skipped so far",
                    s["fps"].as_f64().unwrap(),
                    s["latencyMs"].as_f64().unwrap(),
                    s["inferenceMs"].as_f64().unwrap(),
                    s["dropped"]
                ),
            );
        }
    }

    // Stop: the last frame stays. A screenshot of the page shows it where the canvas is.
    // (BRUSHWORK_SCREENSHOT=FILE saves it, the whole page in view: the README's picture.)
    client.find(Locator::Id("cam-stop")).await?.click().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown = canvas(client, "cam-out").await;
    let save_to = std::env::var_os("BRUSHWORK_SCREENSHOT");
    if save_to.is_some() {
        client.set_window_size(1280, 1330).await?;
    }
    let rect = client
        .execute(
            "const c = document.getElementById('cam-out'); c.scrollIntoView({ block: 'nearest' }); const r = c.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]",
            vec![],
        )
        .await?;
    let r: Vec<u32> = rect
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap().round() as u32)
        .collect();
    let shot = image::load_from_memory(&client.screenshot().await?)
        .unwrap()
        .into_rgb8();
    if let Some(path) = save_to {
        shot.save(path).unwrap();
    }
    assert!(
        r[2] >= 320 && r[0] + r[2] <= shot.width() && r[1] < shot.height(),
        "canvas at {r:?} in {:?}",
        shot.dimensions()
    );
    let on_screen =
        image::imageops::crop_imm(&shot, r[0], r[1], r[2], r[3].min(shot.height() - r[1]))
            .to_image();
    let scaled = image::imageops::resize(&shown, r[2], r[3], image::imageops::FilterType::Triangle);
    let scaled =
        image::imageops::crop_imm(&scaled, 0, 0, on_screen.width(), on_screen.height()).to_image();
    assert_close(&on_screen, &scaled, 12.0, "the screenshot's canvas");

    // A phone's width: everything fits without scrolling sideways.
    client.set_window_size(390, 844).await?;
    let fits = client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await?;
    assert_eq!(fits, true, "the page scrolls sideways at 390 px");
    Ok(())
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
