//! Property tests over every parser that takes user text: style files, blend weights, preset
//! specs and device names never panic, and a rejection is a message on one line (the binary's
//! `one_line` also flattens causes, but no message of ours may rely on that).

use std::path::Path;
use std::str::FromStr;

use proptest::prelude::*;

use crate::engine::Device;
use crate::presets::PresetMix;
use crate::style::{normalize_weights, StyleEmbedding, EMBEDDING_DIM};
use crate::style_file::StyleFile;

const SHA: &str = "0123abcd";

/// Text that looks like what people type, and what attackers do: numbers, separators, JSON
/// punctuation, unicode.
fn texty() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9eE.:,+\\- ]{0,24}", "\\PC{0,40}", "[a-z:0-9]{0,12}",]
}

/// A valid style file's text with one number replaced by arbitrary JSON.
fn style_file_with(value: &str, index: usize) -> String {
    let e = StyleEmbedding([0.5; EMBEDDING_DIM]);
    let mut v: serde_json::Value =
        serde_json::from_str(&StyleFile::new("s", "s.png", SHA, &e).to_json()).unwrap();
    if let Ok(x) = serde_json::from_str::<serde_json::Value>(value) {
        v["embedding"][index % EMBEDDING_DIM] = x;
    }
    v.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn style_file_parser_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = StyleFile::parse(&text, Path::new("x.style.json"), SHA) {
            prop_assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn style_file_numbers_are_finite_and_in_range_or_refused(
        value in prop_oneof![
            any::<f64>().prop_map(|f| format!("{f:e}")),
            "[0-9eE.+\\-]{1,12}",
            Just("null".to_string()),
            Just("\"7\"".to_string()),
            Just("[1]".to_string()),
        ],
        index in 0usize..EMBEDDING_DIM,
    ) {
        let text = style_file_with(&value, index);
        match StyleFile::parse(&text, Path::new("x.style.json"), SHA) {
            Ok(file) => {
                let e = file.embedding();
                prop_assert!(e.0.iter().all(|v| v.is_finite() && v.abs() <= 20.0), "{value}");
            }
            Err(err) => prop_assert!(!err.to_string().contains('\n'), "{err}"),
        }
    }

    #[test]
    fn weights_normalise_to_one_or_are_refused(weights in prop::collection::vec(any::<f32>(), 0..8)) {
        match normalize_weights(&weights) {
            Ok(w) => {
                let sum: f64 = w.iter().map(|&x| f64::from(x)).sum();
                prop_assert!((sum - 1.0).abs() < 1e-4, "{weights:?} -> {w:?}");
                prop_assert!(w.iter().all(|x| x.is_finite() && *x >= 0.0));
            }
            Err(e) => prop_assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }

    #[test]
    fn preset_specs_mix_to_one_or_are_refused(spec in texty()) {
        match PresetMix::parse(&spec) {
            Ok(mix) => {
                let sum: f64 = mix.0.iter().map(|&x| f64::from(x)).sum();
                prop_assert!((sum - 1.0).abs() < 1e-4, "{spec:?}");
            }
            Err(e) => prop_assert!(!e.to_string().contains('\n') || spec.contains('\n'), "{e}"),
        }
    }

    #[test]
    fn huge_preset_weights_still_mix(a in 0usize..26, b in 0usize..26, w in 1e30f32..f32::MAX) {
        let mix = PresetMix::parse(&format!("{a}:{w},{b}:{w}")).unwrap();
        prop_assert!(mix.0.iter().all(|x| x.is_finite()));
        let sum: f64 = mix.0.iter().map(|&x| f64::from(x)).sum();
        prop_assert!((sum - 1.0).abs() < 1e-4);
    }

    #[test]
    fn device_names_parse_or_are_refused(text in texty()) {
        if let Err(e) = Device::from_str(&text) {
            prop_assert!(!e.contains('\n') || text.contains('\n'), "{e}");
        }
    }
}
