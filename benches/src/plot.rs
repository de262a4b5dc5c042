//! SVG plots of a run: bytes beyond the missing events against d and against n, and round trips
//! against d. SVG only, so no font or system library is needed; text is laid out by the viewer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::measure::Protocol;
use crate::report::CaseResult;
use crate::workload::{Pattern, Split};

/// The protocols drawn, with their colours.
const SERIES: [(Protocol, RGBColor); 5] = [
    (Protocol::Tideline, RGBColor(0, 114, 178)),
    (Protocol::Negentropy, RGBColor(213, 94, 0)),
    (Protocol::Naive, RGBColor(0, 158, 115)),
    (Protocol::Cursor, RGBColor(204, 121, 167)),
    (Protocol::LowerBound, RGBColor(80, 80, 80)),
];

type Series = Vec<(Protocol, RGBColor, Vec<(f64, f64)>)>;

/// The uniform, evenly split, single-group results: the ones the sweeps are drawn from.
fn sweep_results(results: &[CaseResult]) -> Vec<&CaseResult> {
    results
        .iter()
        .filter(|result| {
            result.workload.pattern == Pattern::Uniform && result.workload.split == Split::Even
        })
        .collect()
}

/// The value of `key` that the most results share, and those results.
fn largest_sweep<'a, K: Ord + Copy>(
    results: &[&'a CaseResult],
    key: impl Fn(&CaseResult) -> K,
) -> Option<(K, Vec<&'a CaseResult>)> {
    let mut by_key: BTreeMap<K, Vec<&CaseResult>> = BTreeMap::new();
    for result in results {
        by_key.entry(key(result)).or_default().push(result);
    }
    by_key
        .into_iter()
        .max_by_key(|(key, results)| (results.len(), *key))
}

fn series(results: &[&CaseResult], x: impl Fn(&CaseResult) -> f64, rounds: bool) -> Series {
    SERIES
        .iter()
        .filter_map(|(protocol, colour)| {
            let mut points: Vec<(f64, f64)> = results
                .iter()
                .filter_map(|result| {
                    let measure = result.measure(*protocol)?;
                    if measure.not_applicable.is_some() {
                        return None;
                    }
                    let y = if rounds {
                        f64::from(measure.rounds)
                    } else {
                        result.overhead_bytes(measure) as f64
                    };
                    let x = x(result);
                    (x > 0.0 && y > 0.0).then_some((x, y))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (points.len() >= 2).then_some((*protocol, *colour, points))
        })
        .collect()
}

/// Writes the plots that the results have enough points for; returns their paths.
pub fn plots_write(results: &[CaseResult], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let sweeps = sweep_results(results);
    let payload = |result: &CaseResult| result.workload.payload_bytes;
    let Some((payload_bytes, sweeps)) = largest_sweep(&sweeps, payload) else {
        return Ok(written);
    };

    if let Some((n, by_d)) = largest_sweep(&sweeps, |result| result.workload.events_per_side) {
        let d = |result: &CaseResult| result.workload.differences as f64;
        let bytes = series(&by_d, d, false);
        if !bytes.is_empty() {
            let path = dir.join("bandwidth-bytes-vs-d.svg");
            draw(
                &path,
                &format!(
                    "Bytes beyond the missing events, n = {n}, uniform, {payload_bytes} B payloads"
                ),
                "d (differences, both sides)",
                "bytes beyond the missing events",
                &bytes,
                true,
            )?;
            written.push(path);
        }
        let rounds = series(&by_d, d, true);
        if !rounds.is_empty() {
            let path = dir.join("bandwidth-rounds-vs-d.svg");
            draw(
                &path,
                &format!("Round trips, n = {n}, uniform"),
                "d (differences, both sides)",
                "round trips",
                &rounds,
                false,
            )?;
            written.push(path);
        }
    }
    if let Some((d, by_n)) = largest_sweep(&sweeps, |result| result.workload.differences) {
        let n = |result: &CaseResult| result.workload.events_per_side as f64;
        let bytes = series(&by_n, n, false);
        if !bytes.is_empty() {
            let path = dir.join("bandwidth-bytes-vs-n.svg");
            draw(
                &path,
                &format!(
                    "Bytes beyond the missing events, d = {d}, uniform, {payload_bytes} B payloads"
                ),
                "n (events per side)",
                "bytes beyond the missing events",
                &bytes,
                true,
            )?;
            written.push(path);
        }
    }
    Ok(written)
}

/// A tick label: `1`, `10`, `1k`, `10M`, and plain numbers for values that are not powers of
/// ten.
fn tick_label(value: f64) -> String {
    for (scale, suffix) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if value >= scale {
            return format!("{}{suffix}", trim(value / scale));
        }
    }
    trim(value)
}

fn trim(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

fn bounds(series: &Series, pick: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
    let values = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(&pick));
    values.fold((f64::MAX, f64::MIN), |(low, high), value| {
        (low.min(value), high.max(value))
    })
}

fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &Series,
    log_y: bool,
) -> anyhow::Result<()> {
    let (x_low, x_high) = bounds(series, |point| point.0);
    let (y_low, y_high) = bounds(series, |point| point.1);
    let x_range = ((x_low / 1.5)..(x_high * 1.5)).log_scale();
    if log_y {
        let y_range = ((y_low / 2.0)..(y_high * 2.0)).log_scale();
        chart_draw(path, title, x_label, y_label, series, x_range, y_range)
    } else {
        let y_range = 0.0..(y_high + 1.0);
        chart_draw(path, title, x_label, y_label, series, x_range, y_range)
    }
}

fn chart_draw<X, Y>(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &Series,
    x_range: X,
    y_range: Y,
) -> anyhow::Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let error = |error: &dyn std::fmt::Display| anyhow!("drawing {}: {error}", path.display());
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range, y_range)
        .map_err(|e| error(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|value| tick_label(*value))
        .y_label_formatter(&|value| tick_label(*value))
        .draw()
        .map_err(|e| error(&e))?;
    for (protocol, colour, points) in series {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(|e| error(&e))?
            .label(protocol.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        chart
            .draw_series(
                points
                    .iter()
                    .map(|point| Circle::new(*point, 3, colour.filled())),
            )
            .map_err(|e| error(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| error(&e))?;
    root.present().map_err(|e| error(&e))?;
    Ok(())
}
