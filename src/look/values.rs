//! The style language's values, checked in one place for every front end: the command line's
//! flags (`--strength`, `--weights`, `--preset`) and the server's fields (`strength`,
//! `weights`, `preset`) go through the same functions and get the same messages, which differ
//! only in the name each front end gives the value.

use crate::look::MAX_PALETTE;
use crate::presets::{PresetError, PresetMix};

/// A value refused: `name` is what the caller calls it (`--strength`, `strength`), `problem`
/// what is wrong with it, without the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ValueError {
    pub name: String,
    pub problem: String,
}

impl ValueError {
    pub fn new(name: &str, problem: impl std::fmt::Display) -> ValueError {
        ValueError {
            name: name.to_string(),
            problem: problem.to_string(),
        }
    }
}

/// A number in `lo..=hi`, written as text.
pub fn number_in(name: &str, text: &str, lo: f32, hi: f32) -> Result<f32, ValueError> {
    let v: f32 = text
        .trim()
        .parse()
        .map_err(|_| ValueError::new(name, format!("'{text}' is not a number")))?;
    check_in(name, v, lo, hi)
}

/// A number already parsed, in `lo..=hi` (NaN is not).
pub fn check_in(name: &str, v: f32, lo: f32, hi: f32) -> Result<f32, ValueError> {
    if !(lo..=hi).contains(&v) {
        return Err(ValueError::new(name, format!("{v} is outside {lo}..{hi}")));
    }
    Ok(v)
}

/// A strength written as text: a number from 0 to 1.
pub fn strength(name: &str, text: &str) -> Result<f32, ValueError> {
    number_in(name, text, 0.0, 1.0)
}

/// A strength already parsed: from 0 to 1.
pub fn check_strength(name: &str, v: f32) -> Result<f32, ValueError> {
    check_in(name, v, 0.0, 1.0)
}

/// One blend weight written as text (whether the weights can blend is [`check_weights`]'s).
pub fn weight(name: &str, text: &str) -> Result<f64, ValueError> {
    text.trim()
        .parse::<f64>()
        .map_err(|_| ValueError::new(name, format!("'{text}' is not a number")))
}

/// Comma-separated blend weights, `0.7,0.3`.
pub fn weights(name: &str, text: &str) -> Result<Vec<f64>, ValueError> {
    text.split(',').map(|w| weight(name, w)).collect()
}

/// Checks that `weights` blend `count` styles: one weight per style (`per` names what a style
/// is given as: `--style`, `style`), none negative or not finite, not all zero.
pub fn check_weights(
    name: &str,
    weights: &[f64],
    count: usize,
    per: &str,
) -> Result<(), ValueError> {
    if weights.len() != count {
        return Err(ValueError::new(
            name,
            format!(
                "{count} styles but {} weights; give one weight per {per}",
                weights.len()
            ),
        ));
    }
    crate::style::normalize_weights(weights).map_err(|e| ValueError::new(name, e))?;
    Ok(())
}

/// Checks how many styles or presets a look is given: at most [`MAX_PALETTE`].
pub fn check_palette_size(count: usize) -> Result<(), String> {
    if count > MAX_PALETTE {
        return Err(format!(
            "{count} styles; at most {MAX_PALETTE} can be given"
        ));
    }
    Ok(())
}

/// Preset specs (`7`, `3:0.5,12:0.5`), each parsed.
pub fn presets<S: AsRef<str>>(specs: &[S]) -> Result<Vec<PresetMix>, PresetError> {
    specs.iter().map(|s| PresetMix::parse(s.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_and_the_api_refuse_alike_but_for_the_name() {
        for (cli, api) in [
            (strength("--strength", "1.5"), strength("strength", "1.5")),
            (strength("--strength", "x"), strength("strength", "x")),
            (
                check_strength("--strength", -0.5),
                check_strength("strength", -0.5),
            ),
        ] {
            let (cli, api) = (cli.unwrap_err(), api.unwrap_err());
            assert_eq!(cli.problem, api.problem);
            assert_eq!(cli.to_string(), format!("--strength: {}", cli.problem));
            assert_eq!(api.to_string(), format!("strength: {}", api.problem));
        }
        assert_eq!(
            strength("strength", "1.5").unwrap_err().to_string(),
            "strength: 1.5 is outside 0..1"
        );
        assert_eq!(
            strength("--strength", " x").unwrap_err().problem,
            "' x' is not a number"
        );
        assert_eq!(strength("strength", " 0.25 "), Ok(0.25));
        assert!(check_strength("strength", f32::NAN).is_err());

        let cli = check_weights("--weights", &[1.0, 1.0], 1, "--style").unwrap_err();
        let api = check_weights("weights", &[1.0, 1.0], 1, "style").unwrap_err();
        assert_eq!(
            cli.to_string(),
            "--weights: 1 styles but 2 weights; give one weight per --style"
        );
        assert_eq!(
            api.to_string(),
            "weights: 1 styles but 2 weights; give one weight per style"
        );
        for name in ["--weights", "weights"] {
            let e = check_weights(name, &[0.0, 0.0], 2, "style").unwrap_err();
            assert_eq!(e.name, name);
            assert!(e.problem.contains("all weights are zero"), "{e}");
            assert!(check_weights(name, &[1.0, -1.0], 2, "style").is_err());
            assert_eq!(
                weight(name, "x").unwrap_err().to_string(),
                format!("{name}: 'x' is not a number")
            );
        }
        assert_eq!(weights("weights", "0.7, 0.3"), Ok(vec![0.7, 0.3]));
        assert!(check_weights("weights", &[0.7, 0.3], 2, "style").is_ok());
    }

    #[test]
    fn palettes_and_presets_are_checked_once() {
        assert!(check_palette_size(MAX_PALETTE).is_ok());
        assert_eq!(
            check_palette_size(MAX_PALETTE + 1).unwrap_err(),
            format!(
                "{} styles; at most {MAX_PALETTE} can be given",
                MAX_PALETTE + 1
            )
        );
        assert_eq!(presets(&["7", "3:1,12:3"]).unwrap().len(), 2);
        assert_eq!(presets(&["7", "26"]), Err(PresetError::OutOfRange(26)));
    }
}
