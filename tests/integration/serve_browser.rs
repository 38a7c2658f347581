//! `brushwork serve`'s page in real browsers (Chromium with a fake camera, Firefox) through
//! WebDriver: starting the browser and its driver; the scenario is [`crate::serve_page`]'s.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::serve::Server;
use crate::serve_page::drive_page;
use crate::util::{example, have, skip};

/// A free port on loopback, for chromedriver.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
pub enum Camera {
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
