//! What the fuzz targets in `fuzz/` check from outside the crate (feature `fuzzing`): the
//! stages' modules are private, so their oracles and seed extraction live here, beside the
//! code they hold to account.
//!
//! - [`readers_agree`]: the index's fast wire readers against their exact, decoding paths;
//! - [`hcm_patch_holds`]: the HCM mutator keeps every record and inserts exactly one filter;
//! - [`seeds`]: the resources of a request each target starts from.

mod hcm;
mod seeds;

pub use crate::index::differential::{Disagreement, Pair, readers_agree};
pub use hcm::{Violation, hcm_patch_holds};
pub use seeds::{Seeds, seeds, with_split_scheme_header_transformation};
