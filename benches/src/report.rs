//! The results of a run as a markdown table and as CSV.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{Measure, Protocol};
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

const COLUMNS: [&str; 17] = [
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
    "time_ms",
    "apply_ms",
    "heap_peak_bytes",
    "not_applicable",
];

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
                if applicable {
                    format!("{:.3}", measure.time.as_secs_f64() * 1000.0)
                } else {
                    String::new()
                },
                format!("{:.3}", measure.apply_time.as_secs_f64() * 1000.0),
                number(measure.heap_peak_bytes),
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

/// The results as one markdown table.
pub fn markdown(results: &[CaseResult]) -> String {
    let mut out = String::new();
    out.push_str(
        "| workload | protocol | → responder (B) | → initiator (B) | total (B) | beyond events (B) \
         | × lower bound | rounds | time (ms) | heap peak (MiB) |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for result in results {
        let label = result.workload.label();
        for measure in &result.measures {
            if let Some(why) = measure.not_applicable {
                let _ = writeln!(
                    out,
                    "| {label} | {} | N/A | N/A | N/A | N/A | N/A | N/A | N/A | N/A ({why}) |",
                    measure.protocol
                );
                continue;
            }
            let ratio = result
                .overhead_ratio(measure)
                .map_or("–".to_owned(), |ratio| format!("{ratio:.2}"));
            let time = if measure.protocol == Protocol::LowerBound {
                "–".to_owned()
            } else {
                milliseconds(measure.time)
            };
            let heap = if measure.protocol == Protocol::LowerBound {
                "–".to_owned()
            } else {
                format!("{:.1}", measure.heap_peak_bytes as f64 / (1024.0 * 1024.0))
            };
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} | {ratio} | {} | {time} | {heap} |",
                measure.protocol,
                thousands(measure.bytes_to_responder),
                thousands(measure.bytes_to_initiator),
                thousands(measure.bytes_total()),
                thousands(result.overhead_bytes(measure)),
                measure.rounds,
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
        let number = |column: usize| -> anyhow::Result<u64> {
            if fields[column].is_empty() {
                return Ok(0);
            }
            fields[column]
                .parse()
                .with_context(|| format!("line {}: {}", index + 2, COLUMNS[column]))
        };
        let milliseconds = |column: usize| -> anyhow::Result<Duration> {
            if fields[column].is_empty() {
                return Ok(Duration::ZERO);
            }
            let ms: f64 = fields[column].parse()?;
            Ok(Duration::from_secs_f64(ms / 1000.0))
        };
        let groups = number(5)? as usize;
        let workload = Workload {
            pattern: Pattern::from_str(fields[0], false).map_err(anyhow::Error::msg)?,
            events_per_side: number(1)? as usize,
            differences: number(2)? as usize,
            split: Split::from_str(fields[3], false).map_err(anyhow::Error::msg)?,
            payload_bytes: number(4)? as usize,
            groups,
            zipf_exponent: 1.0,
            seed: 0,
        };
        let protocol = [
            Protocol::Tideline,
            Protocol::TidelineHttp,
            Protocol::Negentropy,
            Protocol::Naive,
            Protocol::Cursor,
            Protocol::LowerBound,
        ]
        .into_iter()
        .find(|protocol| protocol.name() == fields[6])
        .with_context(|| format!("line {}: unknown protocol {}", index + 2, fields[6]))?;
        let measure = Measure {
            protocol,
            not_applicable: (!fields[16].is_empty()).then_some("not applicable"),
            bytes_to_responder: number(7)?,
            bytes_to_initiator: number(8)?,
            events_moved: 0,
            rounds: number(12)? as u32,
            time: milliseconds(13)?,
            apply_time: milliseconds(14)?,
            heap_peak_bytes: number(15)?,
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
