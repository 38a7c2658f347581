//! What can go wrong building or running a [`Stylizer`](super::Stylizer).

use crate::engine::EngineError;
use crate::models::ModelError;

use super::tiled::{mib, MIN_TILE_SIDE};
use super::MIN_CONTENT_SIDE;

/// Errors from building or running a [`Stylizer`](super::Stylizer): a picture it cannot take,
/// a network the models lack, a memory budget, or its engine's.
#[derive(Debug, thiserror::Error)]
pub enum StylizeError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("image is {width}x{height}; both sides must be at least {MIN_CONTENT_SIDE} px")]
    TooSmall { width: u32, height: u32 },
    #[error(
        "the models in use have no multi-style network ({}), so presets are unavailable",
        crate::models::MULTISTYLE_FILE
    )]
    NoPresets,
    #[error("a {width}x{height} picture needs at least {} even in tiles of {tile_side} px; the memory budget is {}: {}", mib(*needed), mib(*budget), over_budget_remedy(*tile_side))]
    OverBudget {
        width: u32,
        height: u32,
        needed: u64,
        budget: u64,
        /// The side of the tiles it was measured in.
        tile_side: u32,
    },
    #[error("a {width}x{height} picture needs about {} untiled, over the memory budget of {}, and {reason}", mib(*needed), mib(*budget))]
    CannotTile {
        width: u32,
        height: u32,
        needed: u64,
        budget: u64,
        /// Why, and what to do instead.
        reason: String,
    },
}

/// What to do about a picture over the budget: smaller tiles only while there are any.
fn over_budget_remedy(tile_side: u32) -> &'static str {
    if tile_side > MIN_TILE_SIDE {
        "raise --memory-budget, use a smaller --tile-size or --max-size"
    } else {
        "raise --memory-budget or use --max-size"
    }
}

impl StylizeError {
    /// Whether the user can fix it: a picture too small or too large for memory, a network
    /// their models directory lacks, or an engine error of theirs (see
    /// [`EngineError::is_user_error`]).
    pub fn is_user_error(&self) -> bool {
        match self {
            StylizeError::Engine(e) => e.is_user_error(),
            StylizeError::TooSmall { .. }
            | StylizeError::NoPresets
            | StylizeError::OverBudget { .. }
            | StylizeError::CannotTile { .. } => true,
        }
    }
}

impl From<ModelError> for StylizeError {
    fn from(e: ModelError) -> Self {
        StylizeError::Engine(e.into())
    }
}
