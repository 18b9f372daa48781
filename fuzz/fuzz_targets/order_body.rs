//! `cargo +nightly fuzz run order_body`: see `dispatch_fuzz::Target::check` for what is
//! checked, and ../README.md for how to run it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dispatch_fuzz::Target::OrderBody.check(data);
});
