//! Fuzzes sluice's HTTP/1.1 readers (request heads, chunked / length bodies, pipelined;
//! upstream response heads): any bytes must parse, ask for more, or be refused — never
//! panic or loop.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sluice_proxy::read_h1_requests(data);
});
