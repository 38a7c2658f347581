//! The 26 presets of the multi-style network.

use std::process::Command;

use crate::util::*;

#[derive(serde::Deserialize)]
struct GoldenPresets {
    presets: Vec<GoldenPreset>,
}

#[derive(serde::Deserialize)]
struct GoldenPreset {
    content: String,
    preset: String,
    expected: String,
}

#[test]
fn presets_match_python_onnxruntime() {
    let text = std::fs::read_to_string(data("golden.json")).unwrap();
    let g: GoldenPresets = serde_json::from_str(&text).unwrap();
    assert!(g.presets.len() >= 2);
    let dir = tempfile::tempdir().unwrap();
    for case in &g.presets {
        let got = stylize_to(
            dir.path(),
            "p.png",
            &data(&case.content),
            &["--preset", &case.preset],
        );
        let diff = mean_abs_diff_per_channel(&got, &load(&data(&case.expected)));
        assert!(
            diff.iter().all(|d| *d <= 1.0),
            "preset {}: {diff:?}",
            case.preset
        );
    }
}

#[test]
fn presets_sheet_shows_all_26() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("sheet.png");
    let out = brushwork(&[
        &"presets",
        &example("content/golden_gate_sq.jpg"),
        &"-o",
        &sheet,
        &"--tile",
        &"64",
        &"--columns",
        &"9",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = load(&sheet);
    // 27 tiles (the original and 26 presets) in rows of 9: 3 rows of 64 px tiles plus labels.
    assert!(
        s.width() >= 9 * 64 && s.width() < 10 * 64 + 60,
        "{:?}",
        s.dimensions()
    );
    assert!(
        s.height() >= 3 * 64 && s.height() < 4 * 64 + 3 * 60,
        "{:?}",
        s.dimensions()
    );
}

#[test]
fn bad_preset_specs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |spec: &str, extra: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.arg("stylize")
            .arg(example("content/golden_gate_sq.jpg"))
            .arg("-o")
            .arg(dir.path().join("out.png"))
            .arg(format!("--preset={spec}"))
            .args(extra);
        cmd.output().unwrap()
    };
    assert_user_error(&run("26", &[]), "preset 26 does not exist", dir.path());
    assert_user_error(&run("seven", &[]), "use N or N:WEIGHT", dir.path());
    assert_user_error(&run("1:0,2:0", &[]), "all weights are zero", dir.path());
    assert_user_error(
        &run("3", &["--weights", "1,1"]),
        "1 styles but 2 weights; give one weight per --preset",
        dir.path(),
    );
}

#[test]
fn models_dir_without_the_multistyle_network_has_no_presets() {
    let (dir, models) = (tempfile::tempdir().unwrap(), int8_only_models());
    let models = models.path();
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &"--preset",
        &"3",
        &"--models",
        &models,
        &"-o",
        &outdir.join("out.png"),
    ]);
    assert_user_error(&out, "presets are unavailable", &outdir);
}
