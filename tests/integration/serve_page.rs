//! What the page is driven through in a browser, and checked against: its canvases read back
//! as pictures, its webcam statistics, and the scenario itself ([`drive_page`]).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use image::RgbImage;

use crate::serve::{assert_close, cli_stylize, Server};
use crate::serve_browser::Camera;
use crate::util::{example, mean_abs_diff_per_channel};

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

pub async fn drive_page(
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
