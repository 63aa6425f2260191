//! The scenario loader (TOML and JSON) on arbitrary text: a typed error or a scenario that
//! validates, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poq_sim::Scenario;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for sc in [Scenario::from_toml(text), Scenario::from_json(text)].into_iter().flatten() {
        sc.validate().expect("a loaded scenario validates");
        let _ = sc.params();
    }
});
