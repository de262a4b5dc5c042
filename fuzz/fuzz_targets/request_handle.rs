//! Fuzz target `request_handle`: see `tideline_testkit::fuzz::request_handle` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tideline_testkit::fuzz::request_handle(data));
