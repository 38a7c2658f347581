//! Style files, blends, names and strengths that are refused: each with its one-line message
//! and exit 2.

use std::process::Command;

use crate::util::*;

fn style_file_error(edit: impl FnOnce(&mut serde_json::Value), needle: &str) {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("styles/bricks.style.json")).unwrap(),
    )
    .unwrap();
    edit(&mut v);
    let file = tempfile::Builder::new()
        .suffix(".style.json")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), v.to_string()).unwrap();
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &file.path(),
        "out.png",
        &[],
        needle,
    );
}

#[test]
fn style_file_with_the_wrong_length() {
    style_file_error(
        |v| drop(v["embedding"].as_array_mut().unwrap().pop()),
        "has 99 numbers",
    );
}

#[test]
fn style_file_with_a_huge_number_or_a_string() {
    // 1e300 is finite (an f32 would overflow, which the message used to say): out of range.
    style_file_error(
        |v| v["embedding"][7] = serde_json::json!(1e300),
        "number 7 is 1e300, outside the ±20",
    );
    style_file_error(
        |v| v["embedding"][7] = serde_json::json!("0.5"),
        "entry 7 of the embedding is \"0.5\", not a number",
    );
}

#[test]
fn style_file_from_a_newer_brushwork() {
    style_file_error(|v| v["version"] = 2.into(), "format version 2 is newer");
}

#[test]
fn style_file_from_another_model() {
    style_file_error(
        |v| v["model_sha256"] = "0".repeat(64).into(),
        "made by another style model",
    );
}

#[test]
fn style_file_that_is_not_json() {
    let file = tempfile::Builder::new()
        .suffix(".style.json")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), "{\"embedding\": [NaN]}").unwrap();
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &file.path(),
        "out.png",
        &[],
        "not a brushwork style file",
    );
}

fn blend_error(styles: &[&str], weights: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("stylize")
        .arg(example("content/golden_gate_sq.jpg"))
        .arg("-o")
        .arg(dir.path().join("out.png"));
    for s in styles {
        cmd.args(["--style", s]);
    }
    cmd.arg(format!("--weights={weights}"));
    let out = cmd.output().unwrap();
    assert_user_error(&out, needle, dir.path());
}

#[test]
fn bad_blend_weights() {
    blend_error(&["towers", "bricks"], "1,-1", "weight -1 is negative");
    blend_error(&["towers", "bricks"], "0,0", "all weights are zero");
    blend_error(&["towers", "bricks"], "NaN,1", "not a finite number");
    blend_error(&["towers", "bricks"], "1", "2 styles but 1 weights");
    blend_error(&["towers"], "1,1", "1 styles but 2 weights");
}

#[test]
fn unknown_style_name() {
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &"van-gogh-please",
        "out.png",
        &[],
        "unknown style 'van-gogh-please'",
    );
}

#[test]
fn strength_outside_zero_to_one() {
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &"towers",
        "out.png",
        &["--strength", "1.5"],
        "1.5 is outside 0..1",
    );
}
