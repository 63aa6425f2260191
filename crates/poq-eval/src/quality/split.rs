//! The calibration/held-out split, by sample id.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which rows calibrate and which are held out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Rows the composite is fitted on, increasing.
    pub calibration: Vec<usize>,
    /// Rows it is reported on, increasing.
    pub held_out: Vec<usize>,
}

/// Whether sample `id` falls in the calibration split: a seeded 64-bit hash of the id alone,
/// read as a fraction in [0, 1), is below `share`. Each id decides for itself, so adding,
/// removing or changing other rows never moves it.
#[must_use]
pub fn in_calibration(id: &str, share: f64, seed: u64) -> bool {
    // FNV-1a over the bytes, then the splitmix64 finalizer with the seed mixed in.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 11) as f64 / (1u64 << 53) as f64) < share
}

/// Splits rows by their sample id ([`in_calibration`]): every answer to one prompt lands on the
/// same side. `share` must be in (0, 1) and both sides non-empty.
pub fn split_by_id(ids: &[String], share: f64, seed: u64) -> Result<Split> {
    if !(share > 0.0 && share < 1.0) {
        return Err(Error::InvalidArgument { name: "calibration_share", message: format!("{share} is not in (0, 1)") });
    }
    let (calibration, held_out): (Vec<usize>, Vec<usize>) =
        (0..ids.len()).partition(|&r| in_calibration(&ids[r], share, seed));
    for (name, side) in [("calibration split", &calibration), ("held-out split", &held_out)] {
        if side.is_empty() {
            return Err(Error::InvalidArgument {
                name: "ids",
                message: format!("the {name} is empty ({} rows, share {share}, seed {seed})", ids.len()),
            });
        }
    }
    Ok(Split { calibration, held_out })
}
