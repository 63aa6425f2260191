//! Model folders live in poq-candle, shared with poq-infer; re-exported here so `crate::model_dir`
//! paths keep working.

pub use poq_candle::{ModelDir, SentenceConfig};
