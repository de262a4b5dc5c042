//! The results of a run as a markdown table and as CSV.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{Measure, Protocol, SideCost};
use crate::workload::Workload;

/// Everything measured on one workload.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The workload.
    pub workload: Workload,
    /// Bytes of the events that had to move, both ways.
    pub missing_event_bytes: u64,
    /// How many events had to move.
    pub differences: u64,
    /// Time to generate the logs and build both replicas' stores and trees.
    pub build_time: Duration,
    /// Heap the two replicas' stores hold once built, before the session; 0 when the heap is
    /// not measured.
    pub stores_heap_bytes: u64,
    /// One measure per protocol, the lower bound included.
    pub measures: Vec<Measure>,
    /// negentropy's own messages, without the events: bytes both ways.
    pub negentropy_message_bytes: u64,
    /// negentropy's own round trips, without the one that moves the events.
    pub negentropy_message_rounds: u32,
}

impl CaseResult {
    /// The measure of `protocol`, if it ran.
    pub fn measure(&self, protocol: Protocol) -> Option<&Measure> {
        self.measures
            .iter()
            .find(|measure| measure.protocol == protocol)
    }

    /// Bytes a protocol moved beyond the missing events.
    pub fn overhead_bytes(&self, measure: &Measure) -> u64 {
        measure
            .bytes_total()
            .saturating_sub(self.missing_event_bytes)
    }

    /// The overhead over the lower bound's (32 bytes per difference); `None` when nothing
    /// differs.
    pub fn overhead_ratio(&self, measure: &Measure) -> Option<f64> {
        (self.differences > 0)
            .then(|| self.overhead_bytes(measure) as f64 / (32 * self.differences) as f64)
    }
}

const COLUMNS: [&str; 20] = [
    "pattern",
    "n",
    "d",
    "split",
    "payload_bytes",
    "groups",
    "protocol",
    "bytes_to_responder",
    "bytes_to_initiator",
    "bytes_total",
    "bytes_beyond_events",
    "overhead_over_lower_bound",
    "rounds",
    "initiator_time_ms",
    "responder_time_ms",
    "initiator_apply_ms",
    "responder_apply_ms",
    "initiator_heap_peak_bytes",
    "responder_heap_peak_bytes",
    "not_applicable",
];

/// The position of a column in [`COLUMNS`].
fn column(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|column| *column == name)
        .expect("a column of the CSV")
}

/// The results as CSV, one line per workload and protocol, with a header line.
pub fn csv(results: &[CaseResult]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for result in results {
        let workload = &result.workload;
        for measure in &result.measures {
            let applicable = measure.not_applicable.is_none();
            let number = |value: u64| {
                if applicable {
                    value.to_string()
                } else {
                    String::new()
                }
            };
            let time = |duration: Duration| {
                if applicable {
                    format!("{:.3}", duration.as_secs_f64() * 1000.0)
                } else {
                    String::new()
                }
            };
            let apply = |duration: Duration| format!("{:.3}", duration.as_secs_f64() * 1000.0);
            let fields = [
                workload.pattern.to_string(),
                workload.events_per_side.to_string(),
                workload.differences.to_string(),
                workload.split.to_string(),
                workload.payload_bytes.to_string(),
                workload.groups_len().to_string(),
                measure.protocol.to_string(),
                number(measure.bytes_to_responder),
                number(measure.bytes_to_initiator),
                number(measure.bytes_total()),
                number(result.overhead_bytes(measure)),
                result
                    .overhead_ratio(measure)
                    .filter(|_| applicable)
                    .map_or(String::new(), |ratio| format!("{ratio:.3}")),
                number(u64::from(measure.rounds)),
                time(measure.initiator.time),
                time(measure.responder.time),
                apply(measure.initiator.apply_time),
                apply(measure.responder.apply_time),
                number(measure.initiator.heap_peak_bytes),
                number(measure.responder.heap_peak_bytes),
                measure.not_applicable.unwrap_or("").replace(',', ";"),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
    }
    out
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration in milliseconds, with sensible precision.
fn milliseconds(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

/// The results as one markdown table. Times and heap peaks are per side: see
/// [`crate::measure::SideCost`] for what they count.
pub fn markdown(results: &[CaseResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload | protocol | → responder (B) | → initiator (B) | total (B) | beyond events (B) \
         | × lower bound | rounds | initiator time (ms) | responder time (ms) \
         | initiator heap peak (MiB) | responder heap peak (MiB) |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for result in results {
        let label = result.workload.label();
        for measure in &result.measures {
            if let Some(why) = measure.not_applicable {
                let _ = writeln!(
                    out,
                    "| {label} | {} | N/A | N/A | N/A | N/A | N/A | N/A | N/A | N/A | N/A | N/A \
                     ({why}) |",
                    measure.protocol
                );
                continue;
            }
            let ratio = result
                .overhead_ratio(measure)
                .map_or("–".to_owned(), |ratio| format!("{ratio:.2}"));
            let lower_bound = measure.protocol == Protocol::LowerBound;
            let time = |duration: Duration| {
                if lower_bound {
                    "–".to_owned()
                } else {
                    milliseconds(duration)
                }
            };
            let heap = |bytes: u64| {
                if lower_bound {
                    "–".to_owned()
                } else {
                    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
                }
            };
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} | {ratio} | {} | {} | {} | {} | {} |",
                measure.protocol,
                thousands(measure.bytes_to_responder),
                thousands(measure.bytes_to_initiator),
                thousands(measure.bytes_total()),
                thousands(result.overhead_bytes(measure)),
                measure.rounds,
                time(measure.initiator.time),
                time(measure.responder.time),
                heap(measure.initiator.heap_peak_bytes),
                heap(measure.responder.heap_peak_bytes),
            );
        }
    }
    out
}

/// negentropy's own messages next to the published reference figures' kind of count.
pub fn negentropy_markdown(results: &[CaseResult]) -> String {
    let mut out = String::from(
        "| workload | negentropy messages (B) | per difference (B) | message round trips |\n\
         |---|--:|--:|--:|\n",
    );
    for result in results {
        if result.measure(Protocol::Negentropy).is_none() {
            continue;
        }
        let per_difference = if result.differences > 0 {
            format!(
                "{:.0}",
                result.negentropy_message_bytes as f64 / result.differences as f64
            )
        } else {
            "–".to_owned()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {per_difference} | {} |",
            result.workload.label(),
            thousands(result.negentropy_message_bytes),
            result.negentropy_message_rounds
        );
    }
    out
}

/// Reads back what [`csv`] wrote, enough to draw the plots and print the tables again without
/// running the cases: workloads, bytes, rounds, times and heap peaks.
pub fn csv_parse(text: &str) -> anyhow::Result<Vec<CaseResult>> {
    use anyhow::{bail, Context};
    use clap::ValueEnum;

    use crate::workload::{Pattern, Split};

    let mut lines = text.lines();
    let header = lines.next().context("an empty CSV file")?;
    if header != COLUMNS.join(",") {
        bail!("the CSV header is not the one this version writes: {header}");
    }
    let mut results: Vec<CaseResult> = Vec::new();
    for (index, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != COLUMNS.len() {
            bail!(
                "line {} has {} fields, not {}",
                index + 2,
                fields.len(),
                COLUMNS.len()
            );
        }
        let field = |name: &str| fields[column(name)];
        let number = |name: &str| -> anyhow::Result<u64> {
            if field(name).is_empty() {
                return Ok(0);
            }
            field(name)
                .parse()
                .with_context(|| format!("line {}: {name}", index + 2))
        };
        let milliseconds = |name: &str| -> anyhow::Result<Duration> {
            if field(name).is_empty() {
                return Ok(Duration::ZERO);
            }
            let ms: f64 = field(name)
                .parse()
                .with_context(|| format!("line {}: {name}", index + 2))?;
            Ok(Duration::from_secs_f64(ms / 1000.0))
        };
        let groups = number("groups")? as usize;
        let workload = Workload {
            pattern: Pattern::from_str(field("pattern"), false).map_err(anyhow::Error::msg)?,
            events_per_side: number("n")? as usize,
            differences: number("d")? as usize,
            split: Split::from_str(field("split"), false).map_err(anyhow::Error::msg)?,
            payload_bytes: number("payload_bytes")? as usize,
            groups,
            zipf_exponent: 1.0,
            seed: 0,
        };
        let name = field("protocol");
        let protocol = [
            Protocol::Tideline,
            Protocol::TidelineHttp,
            Protocol::Negentropy,
            Protocol::Naive,
            Protocol::Cursor,
            Protocol::LowerBound,
        ]
        .into_iter()
        .find(|protocol| protocol.name() == name)
        .with_context(|| format!("line {}: unknown protocol {name}", index + 2))?;
        let side = |side: &str| -> anyhow::Result<SideCost> {
            Ok(SideCost {
                time: milliseconds(&format!("{side}_time_ms"))?,
                apply_time: milliseconds(&format!("{side}_apply_ms"))?,
                heap_peak_bytes: number(&format!("{side}_heap_peak_bytes"))?,
            })
        };
        let measure = Measure {
            protocol,
            not_applicable: (!field("not_applicable").is_empty()).then_some("not applicable"),
            bytes_to_responder: number("bytes_to_responder")?,
            bytes_to_initiator: number("bytes_to_initiator")?,
            events_moved: 0,
            rounds: number("rounds")? as u32,
            initiator: side("initiator")?,
            responder: side("responder")?,
        };
        let same = results.last().is_some_and(|last| {
            last.workload.label() == workload.label() && last.measure(protocol).is_none()
        });
        if !same {
            results.push(CaseResult {
                workload,
                missing_event_bytes: 0,
                differences: 0,
                build_time: Duration::ZERO,
                stores_heap_bytes: 0,
                measures: Vec::new(),
                negentropy_message_bytes: 0,
                negentropy_message_rounds: 0,
            });
        }
        let result = results.last_mut().expect("pushed above");
        if protocol == Protocol::LowerBound {
            // The lower bound is the missing events plus 32 bytes per difference.
            let differences = result.workload.differences as u64;
            result.differences = differences;
            result.missing_event_bytes = measure.bytes_total() - 32 * differences;
        }
        result.measures.push(measure);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the CSV round trip the `--replot` option relies on: what is read back gives the
    /// same CSV.
    #[test]
    fn csv_reads_back() {
        use crate::case::case_run;
        use crate::measure::NoHeapMeter;
        use crate::workload::{Pattern, Split};

        let workload = Workload {
            pattern: Pattern::Recent,
            events_per_side: 2_000,
            differences: 20,
            split: Split::Even,
            payload_bytes: 50,
            groups: 1,
            zipf_exponent: 1.0,
            seed: 2,
        };
        let results = vec![case_run(&workload, &NoHeapMeter).unwrap()];
        let text = csv(&results);
        let parsed = csv_parse(&text).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            parsed[0].missing_event_bytes,
            results[0].missing_event_bytes
        );
        // Events moved and the reason for N/A are not in the CSV; everything written is.
        let again = csv(&parsed);
        let drop_reason = |text: &str| -> Vec<String> {
            text.lines()
                .map(|line| line.rsplit_once(',').unwrap().0.to_owned())
                .collect()
        };
        assert_eq!(drop_reason(&again), drop_reason(&text));
    }

    /// Guards the number format the tables use.
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
