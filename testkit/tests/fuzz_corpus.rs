//! Replays the fuzz corpora (`fuzz/corpus/<target>/`) through the fuzz targets' own checks,
//! without libFuzzer, so that plain `cargo test` keeps every input the fuzzers found
//! interesting, and every input that once crashed, passing.
//!
//! The checks live in `tideline_testkit::fuzz`, which the fuzz crate's targets call too; the
//! fuzz crate itself is outside the workspace (it needs a nightly-only sanitizer build).

use std::path::PathBuf;

use tideline_testkit::fuzz as checks;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| {
            let path = entry.expect("a readable folder").path();
            let bytes = std::fs::read(&path).expect("a readable file");
            (path, bytes)
        })
        .collect();
    inputs.sort();
    // An empty or missing corpus would make the replay pass without checking anything.
    assert!(
        inputs.len() >= 10,
        "{} holds only {} inputs",
        folder.display(),
        inputs.len()
    );
    inputs
}

fn replay(target: &str, check: fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(
            outcome.is_ok(),
            "{target} fails on {}; reproduce with `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run \
             {target} {}`",
            path.display(),
            path.display()
        );
    }
}

/// Guards frame decoding against every input the fuzzer kept: no panic, canonical round trip.
#[test]
fn frame_decode_corpus() {
    replay("frame_decode", checks::frame_decode);
}

/// Guards event decoding against every input the fuzzer kept: no panic, canonical round trip,
/// ids from bytes.
#[test]
fn event_decode_corpus() {
    replay("event_decode", checks::event_decode);
}

/// Guards the server's request handling against every input the fuzzer kept: no panic, no
/// write on refusal, no leak.
#[test]
fn request_handle_corpus() {
    replay("request_handle", checks::request_handle);
}
