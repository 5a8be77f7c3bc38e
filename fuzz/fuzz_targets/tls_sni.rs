//! Fuzzes the ClientHello SNI reader used for TLS passthrough: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sluice_core::sni::parse(data);
});
