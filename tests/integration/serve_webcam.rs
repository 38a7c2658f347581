//! `brushwork serve`'s webcam WebSocket: frames in the wire format, the latest frame wins,
//! settings changed mid-stream.

use std::io::{Read, Write};

use image::RgbImage;

use crate::serve::{assert_close, cli_stylize, Server};
use crate::util::example;

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
