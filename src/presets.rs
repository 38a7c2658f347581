//! The 26 learned styles of the multi-style network (conditional instance normalization with
//! one γ/β pair per style, Dumoulin et al. 2017) and mixes of them.

use crate::style::{check_weights, BlendError};

/// How many presets the network has.
pub const NUM_PRESETS: usize = 26;

/// Why a preset spec was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PresetError {
    #[error("preset '{0}': use N or N:WEIGHT,N:WEIGHT (e.g. 7 or 3:0.5,12:0.5)")]
    Syntax(String),
    #[error("preset {0} does not exist; presets are 0 to 25")]
    OutOfRange(usize),
    #[error("preset weights: {0}")]
    Weights(#[from] BlendError),
}

/// A normalized mix of presets: 26 non-negative weights summing to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresetMix(pub [f32; NUM_PRESETS]);

impl PresetMix {
    /// One preset.
    pub fn single(index: usize) -> Result<Self, PresetError> {
        Self::parse(&index.to_string())
    }

    /// `7`, or `3:0.5,12:0.5` (weights are normalized; a preset named twice adds up).
    pub fn parse(spec: &str) -> Result<Self, PresetError> {
        let syntax = || PresetError::Syntax(spec.to_string());
        let mut parts: Vec<(usize, f64)> = Vec::new();
        for part in spec.split(',').map(str::trim) {
            let (idx, wt) = part.split_once(':').unwrap_or((part, "1"));
            let idx: usize = idx.trim().parse().map_err(|_| syntax())?;
            let wt: f64 = wt.trim().parse().map_err(|_| syntax())?;
            if idx >= NUM_PRESETS {
                return Err(PresetError::OutOfRange(idx));
            }
            parts.push((idx, wt));
        }
        if parts.is_empty() {
            return Err(syntax());
        }
        // The weight rules of every blend (finite, non-negative, not all zero; summed in f64,
        // so that a preset named twice with a huge weight cannot overflow).
        let wts: Vec<f64> = parts.iter().map(|&(_, w)| w).collect();
        let total = check_weights(&wts)?;
        let mut shares = [0f64; NUM_PRESETS];
        for (idx, w) in parts {
            shares[idx] += total.share(w);
        }
        Ok(PresetMix(shares.map(|w| w as f32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_weights_do_not_overflow() {
        let mix = PresetMix::parse("3:3e38,12:3e38").unwrap();
        assert_eq!((mix.0[3], mix.0[12]), (0.5, 0.5));
        let mix = PresetMix::parse("3:3e38,3:3e38,12:3e38").unwrap();
        assert!((mix.0[3] - 2.0 / 3.0).abs() < 1e-6, "{:?}", mix.0);
    }

    #[test]
    fn parses_single_presets_and_mixes() {
        let one = PresetMix::parse("7").unwrap();
        assert_eq!(one.0[7], 1.0);
        assert_eq!(one.0.iter().sum::<f32>(), 1.0);
        let mix = PresetMix::parse("3:1, 12:3").unwrap();
        assert_eq!((mix.0[3], mix.0[12]), (0.25, 0.75));
        assert_eq!(
            PresetMix::parse("3:0.5,3:0.5").unwrap(),
            PresetMix::single(3).unwrap()
        );
    }

    #[test]
    fn refuses_bad_specs() {
        assert_eq!(PresetMix::parse("26"), Err(PresetError::OutOfRange(26)));
        assert!(matches!(PresetMix::parse("x"), Err(PresetError::Syntax(_))));
        assert!(matches!(
            PresetMix::parse("3:"),
            Err(PresetError::Syntax(_))
        ));
        assert_eq!(
            PresetMix::parse("1:0,2:0"),
            Err(PresetError::Weights(BlendError::AllZero))
        );
        assert!(matches!(
            PresetMix::parse("1:-1,2:2"),
            Err(PresetError::Weights(BlendError::Negative(_)))
        ));
    }
}
