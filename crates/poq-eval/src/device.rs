//! Device choice lives in poq-candle, shared with poq-infer; re-exported here so
//! `crate::device` paths keep working.

pub use poq_candle::DeviceChoice;
