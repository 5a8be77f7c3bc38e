//! Fuzzes the config pipeline (TOML → serde → validation): any text must become a `Config`
//! or a list of file:line:col errors — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sluice_config::parse(text, "fuzz.toml");
    }
});
