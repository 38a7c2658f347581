//! `brushwork serve`: a client by hand (a server process, multipart forms, raw HTTP/1.1
//! requests, replies) that every `serve_*` module uses, and the API answering what the CLI
//! answers. The other themes: [`crate::serve_limits`] (error statuses, a full queue,
//! SIGTERM), [`crate::serve_webcam`] (the WebSocket), [`crate::serve_browser`] and
//! [`crate::serve_page`] (the page in real browsers), [`crate::serve_hardening`] and
//! [`crate::serve_soak`] (hostile clients).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use image::RgbImage;

use crate::util::{bin, example, mean_abs_diff_per_channel, stderr};

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
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
pub fn cli_stylize(dir: &Path, content: &Path, args: &[&str]) -> RgbImage {
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

pub fn assert_close(got: &RgbImage, want: &RgbImage, limit: f64, what: &str) {
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
