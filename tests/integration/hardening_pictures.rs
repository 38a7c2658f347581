//! Hardening against hostile pictures: decompression bombs, headers without pixels, truncated
//! JPEGs, inputs that are not regular files. Each is refused before it is decoded, in one line.

use std::path::Path;
use std::process::Command;

use crate::hardening::files_in;
use crate::util::*;

/// A PNG whose header claims `w`×`h` pixels, with a few bytes of data: a decompression bomb.
fn png_claiming(path: &Path, w: u32, h: u32) {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        out.extend(crc32(&out[start..]).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A zlib stream of a few zero bytes: far less than the picture claims.
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

#[test]
fn decompression_bombs_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.png");
    png_claiming(&bomb, 100_000, 100_000);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let needle = "decodes at most 100 megapixels";
    let photo = data("content_333x250.png");
    let o = out_dir.join("x.png");
    let runs: Vec<Vec<&dyn AsRef<std::ffi::OsStr>>> = vec![
        vec![&"stylize", &bomb, &"--style", &"towers", &"-o", &o],
        vec![&"stylize", &photo, &"--style", &bomb, &"-o", &o],
        vec![&"embed", &bomb, &"-o", &out_dir],
        vec![
            &"interpolate",
            &bomb,
            &"--from",
            &"towers",
            &"--to",
            &"bricks",
            &"-o",
            &o,
        ],
        vec![
            &"interpolate",
            &photo,
            &"--from",
            &bomb,
            &"--to",
            &"bricks",
            &"-o",
            &o,
        ],
        vec![&"presets", &bomb, &"-o", &o],
    ];
    for args in runs {
        let out = brushwork(&args);
        assert_fails_cleanly(&out, 2, needle);
        assert!(stderr(&out).contains("--max-size"), "{}", stderr(&out));
        assert!(files_in(&out_dir).is_empty(), "{:?}", files_in(&out_dir));
    }
    // In a batch, the photos after the bomb are still stylized.
    let out = brushwork(&[
        &"stylize", &bomb, &photo, &"--style", &"towers", &"-o", &out_dir,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    assert_eq!(files_in(&out_dir), ["content_333x250.png"]);
}

/// JPEGs cut short: the decoder would paint the missing part grey and succeed.
/// A BMP header (BITMAPINFOHEADER, 24 bits) declaring `w`×`h` and no pixel data.
fn bmp_claiming(path: &Path, w: i32, h: i32) {
    let mut b = b"BM".to_vec();
    b.extend(54u32.to_le_bytes()); // file size
    b.extend(0u32.to_le_bytes()); // reserved
    b.extend(54u32.to_le_bytes()); // pixel data offset
    b.extend(40u32.to_le_bytes());
    b.extend(w.to_le_bytes());
    b.extend(h.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(24u16.to_le_bytes());
    b.extend([0u8; 24]);
    std::fs::write(path, b).unwrap();
}

#[test]
fn pictures_without_pixels_say_so() {
    let dir = tempfile::tempdir().unwrap();
    type Make = fn(&Path);
    let cases: [(&str, Make); 4] = [
        ("wide0.png", |p| png_claiming(p, 0, 10)),
        ("wide0.bmp", |p| bmp_claiming(p, 0, 10)),
        ("high0.bmp", |p| bmp_claiming(p, 10, 0)),
        ("topdown0.bmp", |p| bmp_claiming(p, 0, -10)),
    ];
    for (name, make) in cases {
        let photo = dir.path().join(name);
        make(&photo);
        let o = dir.path().join("x.png");
        let out = brushwork(&[&"stylize", &photo, &"--style", &"towers", &"-o", &o]);
        assert_fails_cleanly(&out, 2, "it has no pixels");
        assert!(
            !stderr(&out).contains("too large"),
            "{name}: {}",
            stderr(&out)
        );
        assert!(!o.exists());
    }
}

#[test]
fn truncated_jpegs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut baseline = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut baseline, 90)
        .encode_image(&load(&data("content_333x250.png")))
        .unwrap();
    let progressive = std::fs::read(data("progressive_333x250.jpg")).unwrap();
    let sos = baseline
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let sos_len = usize::from(baseline[sos + 2]) * 256 + usize::from(baseline[sos + 3]);
    let cases = [
        ("half.jpg", baseline[..baseline.len() / 2].to_vec()),
        ("headers_only.jpg", baseline[..sos + 2 + sos_len].to_vec()),
        ("no_end_marker.jpg", baseline[..baseline.len() - 2].to_vec()),
        (
            "progressive_cut.jpg",
            progressive[..progressive.len() * 6 / 10].to_vec(),
        ),
    ];
    // The whole files are fine.
    for (name, whole) in [
        ("whole.jpg", &baseline),
        ("whole_progressive.jpg", &progressive),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, whole).unwrap();
        let out = brushwork(&[&"embed", &p, &"-o", &dir.path().join("ok.style.json")]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let photo = data("content_333x250.png");
    let o = out_dir.join("x.png");
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let runs: Vec<Vec<&dyn AsRef<std::ffi::OsStr>>> = vec![
            vec![&"stylize", &p, &"--style", &"towers", &"-o", &o],
            vec![&"stylize", &photo, &"--style", &p, &"-o", &o],
            vec![&"embed", &p, &"-o", &out_dir],
            vec![
                &"interpolate",
                &p,
                &"--from",
                &"towers",
                &"--to",
                &"bricks",
                &"-o",
                &o,
            ],
            vec![&"presets", &p, &"-o", &o],
        ];
        for args in runs {
            let out = brushwork(&args);
            assert_fails_cleanly(&out, 2, "truncated");
            assert!(stderr(&out).contains(name), "{}", stderr(&out));
            assert!(files_in(&out_dir).is_empty(), "{:?}", files_in(&out_dir));
        }
    }
}

/// A FIFO would block forever and /dev/zero would be read without end: both are refused at
/// once, as photo and as style file.
#[test]
fn what_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("photo.png");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let zero = dir.path().join("zero.style.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let o = out_dir.join("x.png");
    let photo = data("content_333x250.png");

    let out = brushwork(&[&"stylize", &fifo, &"--style", &"towers", &"-o", &o]);
    assert_fails_cleanly(&out, 2, "is a FIFO, not a regular file");
    let out = brushwork(&[&"stylize", &photo, &"--style", &fifo, &"-o", &o]);
    assert_fails_cleanly(&out, 2, "is a FIFO, not a regular file");
    let out = brushwork(&[&"stylize", &photo, &"--style", &zero, &"-o", &o]);
    assert_fails_cleanly(&out, 2, "is a character device, not a regular file");
    // A style file larger than any style file is not read whole.
    let big = dir.path().join("big.style.json");
    std::fs::write(&big, vec![b' '; 1 << 20]).unwrap();
    let out = brushwork(&[&"stylize", &photo, &"--style", &big, &"-o", &o]);
    assert_fails_cleanly(&out, 2, "larger than the 64 KiB brushwork reads");
    // In a batch the FIFO fails alone and does not stall the rest.
    let out = brushwork(&[
        &"stylize", &fifo, &photo, &"--style", &"towers", &"-o", &out_dir,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(files_in(&out_dir), ["content_333x250.png"]);
}

/// A 16x16 uncompressed TIFF of grey with alpha (8 bits each), a layout the TIFF decoder
/// does not read.
fn grey_alpha_tiff(path: &Path) {
    let (side, data_at) = (16u32, 8 + 2 + 10 * 12 + 4);
    let mut b: Vec<u8> = b"II*\0".to_vec();
    b.extend(8u32.to_le_bytes());
    b.extend(10u16.to_le_bytes());
    let entries: [(u16, u16, u32, u32); 10] = [
        (256, 3, 1, side),            // width
        (257, 3, 1, side),            // height
        (258, 3, 2, 8 | (8 << 16)),   // 8 bits per sample, twice
        (259, 3, 1, 1),               // no compression
        (262, 3, 1, 1),               // black is zero
        (273, 4, 1, data_at),         // where the pixels start
        (277, 3, 1, 2),               // two samples per pixel
        (278, 3, 1, side),            // one strip
        (279, 4, 1, side * side * 2), // of this many bytes
        (338, 3, 1, 2),               // the second sample is (unassociated) alpha
    ];
    for (tag, kind, count, value) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(kind.to_le_bytes());
        b.extend(count.to_le_bytes());
        b.extend(value.to_le_bytes());
    }
    b.extend(0u32.to_le_bytes());
    assert_eq!(b.len() as u32, data_at);
    b.extend((0..side * side).flat_map(|i| [(i % 256) as u8, 255]));
    std::fs::write(path, b).unwrap();
}

/// A picture in a pixel layout its decoder lacks is refused in words, not in the decoder's
/// own terms ("the color type `Unknown(16)`").
#[test]
fn a_pixel_layout_the_decoder_lacks_is_refused_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let tiff = dir.path().join("grey_alpha.tiff");
    grey_alpha_tiff(&tiff);
    stylize_fails(
        &tiff,
        &"towers",
        "x.png",
        &[],
        "grey_alpha.tiff: not an image brushwork can decode (its pixel layout (16 bits per \
         pixel) is one the decoder cannot read; save it as 8-bit RGB)",
    );
}
