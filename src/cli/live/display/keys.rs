//! The live window's keys: styles, blends, morphs, strength, colours, side by side,
//! snapshots and quitting, applied to the shared [`Controls`].

use std::time::Instant;

use brushwork::images;
use brushwork::pipeline::{dominant, Controls, Flow};
use minifb::{Key, KeyRepeat};

use super::{Display, NOTICE};

impl Display<'_> {
    /// Saves the frame shown as a PNG in the snapshots directory and says so on the status line.
    fn snapshot(&mut self) {
        let name = format!(
            "brushwork-snapshot-{}.png",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let path = self.snapshots.join(name);
        let text = match images::save_atomic(&self.last_output(), &path, images::JPEG_QUALITY) {
            Ok(()) => format!("saved {}", path.display()),
            Err(e) => format!("not saved: {e}"),
        };
        say!("brushwork: {text}");
        self.notice = Some((text, Instant::now() + NOTICE));
    }

    /// Handles the keys pressed since the last update. Returns Stop for Q and Esc.
    pub(super) fn keys(&mut self, controls: &Controls) -> Flow {
        let window = self.window.as_ref().expect("keys need a window");
        let pressed = window.get_keys_pressed(KeyRepeat::No);
        if pressed.is_empty() {
            return Flow::Continue;
        }
        let n = self.labels.len();
        let mut redraw = false;
        for key in pressed {
            match key {
                Key::Q | Key::Escape => return Flow::Stop,
                Key::Space => {
                    self.side_by_side = !self.side_by_side;
                    redraw = true;
                }
                Key::S => {
                    self.snapshot();
                    redraw = true;
                }
                Key::Up => controls
                    .update(|c| c.strength = ((c.strength + 0.1).min(1.0) * 100.0).round() / 100.0),
                Key::Down => controls
                    .update(|c| c.strength = ((c.strength - 0.1).max(0.0) * 100.0).round() / 100.0),
                Key::C => controls.update(|c| c.preserve_color = !c.preserve_color),
                Key::Right | Key::Left => controls.update(|c| {
                    let from = dominant(&c.target_weights(), n);
                    let to = if key == Key::Right {
                        (from + 1) % n
                    } else {
                        (from + n - 1) % n
                    };
                    c.morph_to(to);
                }),
                Key::Key0 => {
                    let start = self.start.weights;
                    controls.update(|c| {
                        c.weights = start;
                        c.morph = None;
                    });
                }
                k => match digit(k).filter(|i| *i < n) {
                    Some(i) => controls.update(|c| c.select(i)),
                    None => continue,
                },
            }
            if self.verbose {
                let mut text = String::new();
                self.describe_controls(&controls.get(), &mut text);
                say!("brushwork: key {key:?}: {text}");
            }
        }
        if redraw && !self.redraw(controls) {
            return Flow::Stop;
        }
        Flow::Continue
    }
}

fn digit(k: Key) -> Option<usize> {
    [
        Key::Key1,
        Key::Key2,
        Key::Key3,
        Key::Key4,
        Key::Key5,
        Key::Key6,
        Key::Key7,
        Key::Key8,
        Key::Key9,
    ]
    .iter()
    .position(|d| *d == k)
}
