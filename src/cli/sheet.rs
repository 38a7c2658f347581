//! Contact sheets: tiles of pictures with a text label above each, drawn with a small built-in
//! 5x7 bitmap font (so no font needs to be installed).

use image::{imageops, Rgb, RgbImage};

/// Glyph rows, 5 bits each (bit 4 is the leftmost pixel). Lower-case letters are drawn as
/// capitals; characters without a glyph as `?`.
const FONT: &[(char, [u8; 7])] = &[
    (
        '0',
        [
            0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
        ],
    ),
    (
        '1',
        [
            0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
    ),
    (
        '2',
        [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
        ],
    ),
    (
        '3',
        [
            0b11110, 0b00001, 0b00001, 0b01110, 0b00001, 0b00001, 0b11110,
        ],
    ),
    (
        '4',
        [
            0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
        ],
    ),
    (
        '5',
        [
            0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
        ],
    ),
    (
        '6',
        [
            0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        '7',
        [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
        ],
    ),
    (
        '8',
        [
            0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        '9',
        [
            0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
        ],
    ),
    (
        'A',
        [
            0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'B',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
        ],
    ),
    (
        'C',
        [
            0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
        ],
    ),
    (
        'D',
        [
            0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100,
        ],
    ),
    (
        'E',
        [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
        ],
    ),
    (
        'F',
        [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
    ),
    (
        'G',
        [
            0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
        ],
    ),
    (
        'H',
        [
            0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'I',
        [
            0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
    ),
    (
        'J',
        [
            0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
        ],
    ),
    (
        'K',
        [
            0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001,
        ],
    ),
    (
        'L',
        [
            0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111,
        ],
    ),
    (
        'M',
        [
            0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'N',
        [
            0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001,
        ],
    ),
    (
        'O',
        [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        'P',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
    ),
    (
        'Q',
        [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101,
        ],
    ),
    (
        'R',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001,
        ],
    ),
    (
        'S',
        [
            0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110,
        ],
    ),
    (
        'T',
        [
            0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
    ),
    (
        'U',
        [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        'V',
        [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100,
        ],
    ),
    (
        'W',
        [
            0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010,
        ],
    ),
    (
        'X',
        [
            0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
        ],
    ),
    (
        'Y',
        [
            0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
    ),
    (
        'Z',
        [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111,
        ],
    ),
    (
        ' ',
        [
            0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000,
        ],
    ),
    (
        '.',
        [
            0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100,
        ],
    ),
    (
        ',',
        [
            0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000,
        ],
    ),
    (
        ':',
        [
            0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000,
        ],
    ),
    (
        '%',
        [
            0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011,
        ],
    ),
    (
        '+',
        [
            0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000,
        ],
    ),
    (
        '-',
        [
            0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000,
        ],
    ),
    (
        '_',
        [
            0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111,
        ],
    ),
    (
        '=',
        [
            0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000,
        ],
    ),
    (
        '/',
        [
            0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000,
        ],
    ),
    (
        '(',
        [
            0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010,
        ],
    ),
    (
        ')',
        [
            0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000,
        ],
    ),
    (
        '?',
        [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100,
        ],
    ),
];

const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;
/// Pixels per font pixel.
const SCALE: u32 = 2;
/// Height of one line of text.
const LINE_H: u32 = (GLYPH_H + 2) * SCALE;
/// Height of the label band above each tile: two lines.
pub const LABEL_BAND: u32 = 2 * LINE_H + 6;

fn glyph(c: char) -> &'static [u8; 7] {
    let c = c.to_ascii_uppercase();
    FONT.iter()
        .find(|(g, _)| *g == c)
        .or_else(|| FONT.iter().find(|(g, _)| *g == '?'))
        .map(|(_, rows)| rows)
        .expect("the font has '?'")
}

/// Draws `text` with its top-left corner at (x, y), clipped to the image.
pub fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, color: Rgb<u8>) {
    draw_text_scaled(img, x, y, text, color, SCALE);
}

/// [`draw_text`] with each font pixel drawn `scale` × `scale`.
pub fn draw_text_scaled(
    img: &mut RgbImage,
    x: u32,
    y: u32,
    text: &str,
    color: Rgb<u8>,
    scale: u32,
) {
    for (i, c) in text.chars().enumerate() {
        let gx = x + i as u32 * (GLYPH_W + 1) * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..GLYPH_W {
                if bits & (1 << (GLYPH_W - 1 - col)) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (gx + col * scale + dx, y + row as u32 * scale + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, color);
                        }
                    }
                }
            }
        }
    }
}

/// Where tile `index` of a sheet sits (its picture, below its label band).
pub fn tile_origin(index: usize, columns: usize, tile_w: u32, tile_h: u32) -> (u32, u32) {
    let (row, col) = ((index / columns) as u32, (index % columns) as u32);
    (
        PAD + col * (tile_w + PAD),
        PAD + row * (tile_h + LABEL_BAND + PAD) + LABEL_BAND,
    )
}

const PAD: u32 = 6;

/// Lays out equally sized tiles in rows of `columns`, each under its label (up to two lines,
/// split at `\n`, each cut to the tile's width), on white.
pub fn contact_sheet(tiles: &[(String, RgbImage)], columns: usize) -> RgbImage {
    assert!(!tiles.is_empty() && columns > 0);
    let (tw, th) = tiles[0].1.dimensions();
    let columns = columns.min(tiles.len());
    let rows = tiles.len().div_ceil(columns) as u32;
    let width = PAD + columns as u32 * (tw + PAD);
    let height = PAD + rows * (th + LABEL_BAND + PAD);
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (i, (label, tile)) in tiles.iter().enumerate() {
        let (x, y) = tile_origin(i, columns, tw, th);
        imageops::replace(&mut sheet, tile, i64::from(x), i64::from(y));
        let fits = (tw.saturating_sub(4) / ((GLYPH_W + 1) * SCALE)) as usize;
        for (line_no, line) in label.lines().take(2).enumerate() {
            let line: String = line.chars().take(fits).collect();
            let ly = y - LABEL_BAND + 3 + line_no as u32 * LINE_H;
            draw_text(&mut sheet, x + 2, ly, &line, Rgb([20, 20, 20]));
        }
    }
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_glyph_is_distinct() {
        for (i, (a, ga)) in FONT.iter().enumerate() {
            for (b, gb) in &FONT[i + 1..] {
                assert_ne!(ga, gb, "{a} and {b} look the same");
            }
        }
    }

    #[test]
    fn tiles_keep_their_pixels_and_labels_are_drawn() {
        let tile = |v: u8| RgbImage::from_pixel(20, 10, Rgb([v, 0, 0]));
        let tiles = vec![
            ("A".to_string(), tile(10)),
            ("B 50%".to_string(), tile(20)),
            ("C".to_string(), tile(30)),
        ];
        let sheet = contact_sheet(&tiles, 2);
        for (i, (_, t)) in tiles.iter().enumerate() {
            let (x, y) = tile_origin(i, 2, 20, 10);
            let back = imageops::crop_imm(&sheet, x, y, 20, 10).to_image();
            assert_eq!(&back, t);
        }
        let (x, y) = tile_origin(0, 2, 20, 10);
        let band = imageops::crop_imm(&sheet, x, y - LABEL_BAND, 20, LABEL_BAND).to_image();
        assert!(band.pixels().any(|p| p[0] < 100), "label ink in the band");
    }
}
