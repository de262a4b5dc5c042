//! The bandwidth benchmark's command line and what it does; `src/bin/bandwidth.rs` only parses
//! it and installs the counting allocator.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::case::{case_run, suite_workloads, Suite};
use crate::http::{http_markdown, http_run};
use crate::measure::HeapMeter;
use crate::plot::plots_write;
use crate::report::{csv, markdown, negentropy_markdown, CaseResult};
use crate::revisions::{revisions_markdown, revisions_run, RevisionsModel};
use crate::workload::{Pattern, Split, Workload};

/// Bytes Tideline, negentropy, a naive exchange and a cursor pull move to reconcile two event
/// logs, against the lower bound.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "bandwidth", version)]
pub struct Options {
    /// Run a predefined grid instead of one case.
    #[arg(long, value_enum)]
    pub suite: Option<Suite>,
    /// Leave out suite cases with more events per side than this.
    #[arg(long, default_value_t = 10_000_000)]
    pub events_max: usize,
    /// Where the differences fall.
    #[arg(long, value_enum, default_value_t = Pattern::Uniform)]
    pub pattern: Pattern,
    /// n: events on the side that holds the most (10^4 … 10^7).
    #[arg(long = "events", short = 'n', default_value_t = 100_000)]
    pub events_per_side: usize,
    /// d: events only one side holds, over both sides (0 … 10^5).
    #[arg(long, short = 'd', default_value_t = 100)]
    pub differences: usize,
    /// Which side holds the differences.
    #[arg(long, value_enum, default_value_t = Split::Even)]
    pub split: Split,
    /// Bytes of each event's text (50 B … 10 KB); the event is about 76 bytes more.
    #[arg(long, default_value_t = 50)]
    pub payload_bytes: usize,
    /// Groups of the `groups` pattern (1 … 10^4).
    #[arg(long, default_value_t = 1_000)]
    pub groups: usize,
    /// Zipf exponent of group sizes (and of document popularity in `--revisions`).
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// The seed of every generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the results as CSV here.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the results as markdown here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Draw the SVG plots into this folder (they need a sweep of d or n: use a suite).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Read the results of an earlier run from this CSV instead of running cases, and draw the
    /// plots and print the table from them.
    #[arg(long, conflicts_with_all = ["suite", "server"])]
    pub replot: Option<PathBuf>,
    /// Run Tideline against this server over HTTP (`http://127.0.0.1:7700`) instead.
    #[arg(long, requires = "token")]
    pub server: Option<String>,
    /// The bearer token for `--server`; its `sub` writes the events, its `groups` are the
    /// session's groups.
    #[arg(long, requires = "server")]
    pub token: Option<String>,
    /// Also run the events-or-revisions model.
    #[arg(long)]
    pub revisions: bool,
    /// Documents of the revisions model.
    #[arg(long, default_value_t = 10_000)]
    pub docs: usize,
    /// Fields per document in the revisions model.
    #[arg(long, default_value_t = 10)]
    pub fields: usize,
    /// History events of the revisions model.
    #[arg(long, default_value_t = 1_000_000)]
    pub history_events: usize,
    /// Updates the client makes during the offline week, in the revisions model.
    #[arg(long, default_value_t = 1_000)]
    pub client_updates: usize,
    /// Updates everyone else makes meanwhile, in the revisions model.
    #[arg(long, default_value_t = 10_000)]
    pub server_updates: usize,
}

impl Options {
    fn workload(&self) -> Workload {
        Workload {
            pattern: self.pattern,
            events_per_side: self.events_per_side,
            differences: self.differences,
            split: self.split,
            payload_bytes: self.payload_bytes,
            groups: self.groups,
            zipf_exponent: self.zipf,
            seed: self.seed,
        }
    }
}

/// The process's peak resident set (`VmHWM` in `/proc/self/status`), in bytes, where there is
/// one.
pub fn process_peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs what `options` ask for and writes the outputs.
pub fn run(options: &Options, heap: &dyn HeapMeter) -> anyhow::Result<()> {
    let started = Instant::now();
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let mut document = format!(
        "Command: `cargo run --release -p tideline-benches --bin bandwidth -- {}`\n\n",
        arguments.join(" ")
    );

    if let (Some(server), Some(token)) = (&options.server, &options.token) {
        let report = http_run(&options.workload(), server, token)?;
        let text = http_markdown(&report);
        println!("{text}");
        document.push_str(&text);
        if let Some(path) = &options.markdown {
            std::fs::write(path, &document)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(());
    }

    if let Some(path) = &options.replot {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let results = crate::report::csv_parse(&text)?;
        println!("{}", markdown(&results));
        if let Some(dir) = &options.plots {
            for path in plots_write(&results, dir)? {
                eprintln!("wrote {}", path.display());
            }
        }
        return Ok(());
    }

    let workloads = match options.suite {
        Some(suite) => suite_workloads(suite, options.seed, options.events_max),
        None => vec![options.workload()],
    };
    let mut results: Vec<CaseResult> = Vec::new();
    for (index, workload) in workloads.iter().enumerate() {
        eprintln!(
            "[{}/{}] {} ({:.0} s so far)",
            index + 1,
            workloads.len(),
            workload.label(),
            started.elapsed().as_secs_f64()
        );
        let case_started = Instant::now();
        let result =
            case_run(workload, heap).with_context(|| format!("case {}", workload.label()))?;
        eprintln!(
            "    built in {:.1} s (the two stores hold {:.0} MiB of heap, {} B per event per \
             side), ran in {:.1} s",
            result.build_time.as_secs_f64(),
            result.stores_heap_bytes as f64 / (1024.0 * 1024.0),
            result.stores_heap_bytes / (2 * workload.events_per_side.max(1) as u64),
            case_started.elapsed().as_secs_f64() - result.build_time.as_secs_f64()
        );
        results.push(result);
        // Write as we go, so that a long run that is stopped keeps what it measured.
        if let Some(path) = &options.csv {
            std::fs::write(path, csv(&results))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }

    let table = markdown(&results);
    println!("{table}");
    document.push_str(&table);
    let negentropy = negentropy_markdown(&results);
    let _ = write!(
        document,
        "\nnegentropy's own messages (without the events and the round trip that moves them):\n\n{negentropy}"
    );

    if options.revisions {
        let model = RevisionsModel {
            docs: options.docs,
            history_events: options.history_events,
            fields: options.fields,
            value_bytes: options.payload_bytes,
            client_updates: options.client_updates,
            server_updates: options.server_updates,
            zipf_exponent: options.zipf,
            seed: options.seed,
        };
        eprintln!("revisions model");
        let result = revisions_run(&model, heap)?;
        let text = revisions_markdown(&result);
        println!("{text}");
        let _ = write!(document, "\nEvents or revisions:\n\n{text}");
    }

    if let Some(dir) = &options.plots {
        for path in plots_write(&results, dir)? {
            eprintln!("wrote {}", path.display());
        }
    }
    let peak = process_peak_rss_bytes().map_or("unknown".to_owned(), |bytes| {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    });
    let _ = write!(
        document,
        "\nProcess peak RSS (VmHWM, the largest case's two replicas and baselines together): {peak}. \
         Whole run: {:.0} s.\n",
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "process peak RSS {peak}; {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &options.markdown {
        std::fs::write(path, &document).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &options.csv {
        std::fs::write(path, csv(&results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
