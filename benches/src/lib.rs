//! Tideline benchmarks.
