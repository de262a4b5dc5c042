//! Fuzz target `frame_decode`: see `tideline_testkit::fuzz::frame_decode` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tideline_testkit::fuzz::frame_decode(data));
