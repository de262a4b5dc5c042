//! The bandwidth benchmark: Tideline against negentropy, a naive exchange, a cursor pull and
//! the lower bound, on generated logs. `--help` lists the flags; `docs/benchmarks.md` has the
//! figures and the command that made them.

use clap::Parser;
use peak_alloc::PeakAlloc;
use tideline_benches::app::{run, Options};
use tideline_benches::measure::HeapMeter;

/// Counts heap bytes, so each session's peak heap growth can be reported. Installed here, not
/// in the library, so the criterion benchmarks keep the system allocator.
#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

struct PeakMeter;

impl HeapMeter for PeakMeter {
    fn current_bytes(&self) -> usize {
        ALLOCATOR.current_usage()
    }
    fn peak_bytes(&self) -> usize {
        ALLOCATOR.peak_usage()
    }
    fn peak_reset(&self) {
        ALLOCATOR.reset_peak_usage();
    }
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    run(&options, &PeakMeter)
}
