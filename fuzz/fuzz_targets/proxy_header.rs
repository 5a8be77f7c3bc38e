//! Fuzzes the PROXY protocol reader: any bytes must parse, ask for more, or be rejected —
//! never panic — and a parsed header's leftover must be a suffix of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_proxy::proxyproto::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(a)) = parse(data) {
        assert!(data.ends_with(&a.rest));
    }
});
