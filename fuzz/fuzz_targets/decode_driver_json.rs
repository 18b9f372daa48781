//! `cargo +nightly fuzz run decode_driver_json`: see `dispatch_fuzz::Target::check` for what is
//! checked, and ../README.md for how to run it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dispatch_fuzz::Target::DecodeDriverJson.check(data);
});
