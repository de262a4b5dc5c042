//! Fuzz target `event_decode`: see `tideline_testkit::fuzz::event_decode` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tideline_testkit::fuzz::event_decode(data));
