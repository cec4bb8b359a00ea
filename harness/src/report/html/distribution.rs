//! The time-to-enforce distribution of every run on one shared time axis, as
//! inline SVG written here (no script draws it, nothing is fetched): a row
//! per run with a dot per converged step, a box from q1 to q3 with the
//! median, whiskers to the fastest and slowest step. Rows only display
//! [`EnforceStats`]; a run without a converged step says so in words.

use std::fmt::Write as _;

use super::escape;
use crate::report::runs::EnforceStats;

const WIDTH: f64 = 960.0;
const ROW: f64 = 56.0;
const TOP: f64 = 8.0;
/// Room under the rows for the tick labels and the axis' name.
const AXIS: f64 = 48.0;
const RIGHT: f64 = 28.0;
/// How far dots spread above and below a row's middle, so equal times stay visible.
const JITTER: f64 = 13.0;
/// Rows cycle through this many colours (`.c0` … in page.css).
const COLOURS: usize = 6;

/// How times map onto the axis.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scale {
    /// From 0 ms.
    Linear,
    /// log10(ms + shift): `shift` is 1 when a step took 0 ms (the oracle's),
    /// which a plain log scale cannot place, else 0.
    Log { shift: u64 },
}

/// The shared time axis: its scale, the span it covers (in the scale's
/// units) and the times it labels.
#[derive(Clone, Debug, PartialEq)]
struct Axis {
    scale: Scale,
    lo: f64,
    hi: f64,
    ticks: Vec<u64>,
}

impl Axis {
    /// The axis for all these times; `None` when there are none (no scale
    /// would be anything but invented).
    fn of(times: impl Iterator<Item = u64> + Clone) -> Option<Axis> {
        let min = times.clone().min()?;
        let max = times.max()?;
        // Log when the times span more than a decade (the lower end counted
        // from 1 ms, so 0 ms alone does not make a decade).
        if max > min.max(1).saturating_mul(10) {
            let shift = u64::from(min == 0);
            let scale = Scale::Log { shift };
            let (low, high) = (apply(scale, min), apply(scale, max));
            let pad = (high - low) * 0.04;
            let (lo, hi) = (low - pad, high + pad);
            let multiples: &[u64] = if hi - lo <= 3.5 { &[1, 2, 5] } else { &[1] };
            let mut ticks: Vec<u64> = (shift == 1).then_some(0).into_iter().collect();
            for decade in (0..19).map(|k| 10u64.pow(k)) {
                for m in multiples {
                    let v = m.saturating_mul(decade);
                    let at = apply(scale, v);
                    if at >= lo && at <= hi && !ticks.contains(&v) {
                        ticks.push(v);
                    }
                }
            }
            Some(Axis {
                scale,
                lo,
                hi,
                ticks,
            })
        } else {
            let step = nice_step(max as f64 / 5.0);
            let hi = max.div_ceil(step).saturating_mul(step).max(step);
            Some(Axis {
                scale: Scale::Linear,
                lo: 0.0,
                hi: hi as f64,
                ticks: (0..=hi / step).map(|i| i * step).collect(),
            })
        }
    }

    /// Where `ms` falls between `left` and `right`.
    fn x(&self, ms: u64, left: f64, right: f64) -> f64 {
        left + (apply(self.scale, ms) - self.lo) / (self.hi - self.lo) * (right - left)
    }

    /// Which scale it is, in words.
    fn scale_words(&self) -> &'static str {
        match self.scale {
            Scale::Linear => "linear scale",
            Scale::Log { shift: 0 } => "log scale",
            Scale::Log { .. } => "log scale of 1 + ms, so that 0 ms has a place",
        }
    }
}

fn apply(scale: Scale, ms: u64) -> f64 {
    match scale {
        Scale::Linear => ms as f64,
        Scale::Log { shift } => (ms.saturating_add(shift) as f64).log10(),
    }
}

/// The smallest of 1, 2, 5, 10, 20, 50 … ms that is at least `rough`.
fn nice_step(rough: f64) -> u64 {
    let mut decade = 1u64;
    loop {
        for m in [1, 2, 5] {
            if (m * decade) as f64 >= rough {
                return m * decade;
            }
        }
        decade *= 10;
    }
}

/// What a row says beside its label: how many steps it draws and how many
/// have no time, and why.
fn counts(stats: &EnforceStats) -> String {
    let mut parts = vec![match stats.steps() {
        1 => "1 step enforced".to_owned(),
        n => format!("{n} steps enforced"),
    }];
    if stats.never_enforced > 0 {
        parts.push(format!("{} never enforced", stats.never_enforced));
    }
    if stats.not_run > 0 {
        parts.push(format!("{} not run", stats.not_run));
    }
    parts.join(" · ")
}

/// A run's counts and spread (p50 / p99 / max first), for its row's tooltip
/// and the svg's label.
fn row_text(label: &str, stats: &EnforceStats) -> String {
    match (&stats.spread, stats.slowest()) {
        (Some(s), Some(slowest)) => format!(
            "{label}: {}; p50 {} ms, p99 {} ms, max {} ms (slowest: {}), min {} ms, q1 {} ms, q3 {} ms",
            counts(stats),
            s.p50_ms,
            s.p99_ms,
            s.max_ms,
            slowest.step,
            s.min_ms,
            s.q1_ms,
            s.q3_ms
        ),
        _ => format!("{label}: no step converged; {}", counts(stats)),
    }
}

/// The `<svg>` of `runs` (label, stats), a row each in this order.
pub fn svg(runs: &[(&str, &EnforceStats)]) -> String {
    let axis = Axis::of(runs.iter().flat_map(|(_, s)| s.times.iter().map(|t| t.ms)));
    // The label column fits the longest label (13 px bold, about 8 px a
    // character) or counts line (11 px, about 6.2).
    let widest = runs
        .iter()
        .map(|(label, stats)| {
            (label.chars().count() as f64 * 8.0).max(counts(stats).chars().count() as f64 * 6.2)
        })
        .fold(0.0, f64::max);
    let left = (widest + 24.0).clamp(150.0, 360.0);
    let right = WIDTH - RIGHT;
    let bottom = TOP + ROW * runs.len() as f64;
    let height = bottom + if axis.is_some() { AXIS } else { 8.0 };

    let summary: Vec<String> = runs
        .iter()
        .map(|(label, stats)| row_text(label, stats))
        .collect();
    let scale = match &axis {
        Some(axis) => format!("on one axis (ms, {})", axis.scale_words()),
        None => "without an axis: no step of any run converged".into(),
    };
    let description = format!(
        "Time to enforce of each run's steps {scale}. {}.",
        summary.join(". ")
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg class=\"distribution\" role=\"img\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" aria-label=\"{0}\"><title>{0}</title>",
        escape(&description)
    );

    if let Some(axis) = &axis {
        for &tick in &axis.ticks {
            let x = axis.x(tick, left, right);
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom}\"></line>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\">{tick}</text>",
                bottom + 16.0
            );
        }
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\"></line>\
             <text class=\"axis-name\" x=\"{:.1}\" y=\"{:.1}\">time to enforce, ms ({})</text>",
            (left + right) / 2.0,
            bottom + 38.0,
            axis.scale_words()
        );
    }

    for (i, (label, stats)) in runs.iter().enumerate() {
        let top = TOP + ROW * i as f64;
        let middle = top + ROW / 2.0 - 2.0;
        let _ = write!(
            out,
            "<g class=\"run c{}\" data-run=\"{}\" data-enforced=\"{}\" data-never-enforced=\"{}\" \
             data-not-run=\"{}\"><title>{}</title>\
             <rect class=\"band\" x=\"0\" y=\"{top}\" width=\"{WIDTH}\" height=\"{ROW}\"></rect>\
             <text class=\"label\" x=\"8\" y=\"{:.1}\">{}</text>\
             <text class=\"counts\" x=\"8\" y=\"{:.1}\">{}</text>",
            i % COLOURS,
            escape(label),
            stats.steps(),
            stats.never_enforced,
            stats.not_run,
            escape(&row_text(label, stats)),
            top + 23.0,
            escape(label),
            top + 40.0,
            escape(&counts(stats)),
        );
        match (&axis, &stats.spread) {
            (Some(axis), Some(spread)) => {
                let x = |ms| axis.x(ms, left, right);
                let (lo, hi) = (middle - 9.0, middle + 9.0);
                // Dots first: the box, whiskers and median stay visible over dense clusters.
                for (n, time) in stats.times.iter().enumerate() {
                    // The golden ratio's fractions spread neighbours apart, the same on every render.
                    let offset = ((n as f64 * 0.618_034).fract() - 0.5) * 2.0 * JITTER;
                    let _ = write!(
                        out,
                        "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.6\"><title>{}: {} ms</title></circle>",
                        x(time.ms),
                        middle + offset,
                        escape(&time.step),
                        time.ms
                    );
                }
                let _ = write!(
                    out,
                    "<line class=\"whisker\" x1=\"{:.1}\" y1=\"{middle:.1}\" x2=\"{:.1}\" y2=\"{middle:.1}\"></line>\
                     <line class=\"whisker\" x1=\"{:.1}\" y1=\"{middle:.1}\" x2=\"{:.1}\" y2=\"{middle:.1}\"></line>\
                     <line class=\"whisker\" x1=\"{0:.1}\" y1=\"{lo:.1}\" x2=\"{0:.1}\" y2=\"{hi:.1}\"></line>\
                     <line class=\"whisker\" x1=\"{3:.1}\" y1=\"{lo:.1}\" x2=\"{3:.1}\" y2=\"{hi:.1}\"></line>\
                     <rect class=\"box\" x=\"{1:.1}\" y=\"{lo:.1}\" width=\"{4:.1}\" height=\"18\"></rect>\
                     <line class=\"median\" x1=\"{5:.1}\" y1=\"{lo:.1}\" x2=\"{5:.1}\" y2=\"{hi:.1}\"></line>",
                    x(spread.min_ms),
                    x(spread.q1_ms),
                    x(spread.q3_ms),
                    x(spread.max_ms),
                    x(spread.q3_ms) - x(spread.q1_ms),
                    x(spread.p50_ms),
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "<text class=\"none\" x=\"{:.1}\" y=\"{:.1}\">no step converged: no time to draw</text>",
                    left + 8.0,
                    middle + 4.0
                );
            }
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::CaseRecord;
    use crate::verdict::Verdict;

    /// The stats of one case with a step per time, then `never_enforced`
    /// failed and `not_run` skipped steps without one.
    fn stats(times: &[u64], never_enforced: usize, not_run: usize) -> EnforceStats {
        let timed = times.iter().map(|&ms| (Verdict::Passed, Some(ms)));
        let failed = (0..never_enforced).map(|_| (Verdict::Failed, None));
        let skipped = (0..not_run).map(|_| (Verdict::Skipped, None));
        let steps = timed
            .chain(failed)
            .chain(skipped)
            .enumerate()
            .map(|(index, (verdict, ms))| crate::report::runs::tests::step(index, verdict, ms))
            .collect();
        EnforceStats::of(&[CaseRecord {
            name: "c".into(),
            file: "cases/steps/c.yaml".into(),
            tags: vec![],
            verdict: Verdict::Failed,
            reason: None,
            duration_ms: 0,
            steps,
        }])
    }

    /// The text of the row whose `data-run` is `label`.
    fn row<'a>(svg: &'a str, label: &str) -> &'a str {
        let start = svg
            .find(&format!("data-run=\"{label}\""))
            .unwrap_or_else(|| panic!("no row {label}"));
        let end = start + svg[start..].find("</g>").expect("the row ends");
        &svg[start..end]
    }

    #[test]
    fn each_run_is_a_row_with_a_dot_per_converged_step_and_a_run_without_times_says_so() {
        let fast = stats(&[40, 50, 60, 900], 1, 2);
        let none = stats(&[], 3, 0);
        let svg = svg(&[("netns/reference", &fast), ("netns/none", &none)]);
        assert_eq!(svg.matches("<g class=\"run").count(), 2);
        let first = row(&svg, "netns/reference");
        assert_eq!(first.matches("<circle").count(), 4);
        assert_eq!(first.matches("class=\"box\"").count(), 1);
        assert!(first.contains("4 steps enforced · 1 never enforced · 2 not run"));
        assert!(first.contains("p50 50 ms, p99 900 ms, max 900 ms (slowest: c step 3)"));
        assert!(first.contains("min 40 ms, q1 40 ms, q3 60 ms"));
        let second = row(&svg, "netns/none");
        assert_eq!(second.matches("<circle").count(), 0);
        assert!(!second.contains("class=\"box\""));
        assert!(second.contains("no step converged: no time to draw"));
        assert!(second.contains("0 steps enforced · 3 never enforced"));
        // 40…900 ms spans more than a decade.
        assert!(svg.contains("time to enforce, ms (log scale)"));
        assert!(svg.contains("role=\"img\"") && svg.contains("aria-label=\"Time to enforce"));
        assert!(svg.contains("viewBox=\"0 0 960 "));
    }

    #[test]
    fn with_no_converged_step_anywhere_there_is_no_axis_and_every_row_says_why() {
        let svg = svg(&[("a", &stats(&[], 2, 0)), ("b", &stats(&[], 0, 5))]);
        assert!(!svg.contains("class=\"axis\"") && !svg.contains("class=\"tick\""));
        assert_eq!(svg.matches("no step converged: no time to draw").count(), 2);
        assert!(svg.contains("0 steps enforced · 5 not run"));
    }

    #[test]
    fn labels_are_escaped_everywhere() {
        let label = "results/<b>&\"x\".json";
        let svg = svg(&[(label, &stats(&[1, 2], 0, 0))]);
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("data-run=\"results/&lt;b&gt;&amp;&quot;x&quot;.json\""));
    }

    #[test]
    fn the_axis_is_linear_within_a_decade_and_log_beyond_with_zero_placed_by_a_shift() {
        let linear = Axis::of([71u64, 483].into_iter()).expect("times");
        assert_eq!(linear.scale, Scale::Linear);
        assert_eq!(linear.ticks, [0, 100, 200, 300, 400, 500]);
        assert_eq!(linear.x(0, 100.0, 600.0), 100.0);
        assert_eq!(linear.x(500, 100.0, 600.0), 600.0);

        let log = Axis::of([53u64, 1192].into_iter()).expect("times");
        assert_eq!(log.scale, Scale::Log { shift: 0 });
        assert_eq!(log.ticks, [50, 100, 200, 500, 1000]);
        // Distance is the ratio's log: 100 → 1000 is a decade, 50 → 100 log10(2) of one.
        let (c, a, b) = (
            log.x(50, 0.0, 1.0),
            log.x(100, 0.0, 1.0),
            log.x(1000, 0.0, 1.0),
        );
        assert!(((b - a) * 2f64.log10() - (a - c)).abs() < 1e-9);
        assert!(log.x(53, 0.0, 1.0) > 0.0 && log.x(1192, 0.0, 1.0) < 1.0);

        let zero = Axis::of([0u64, 0, 1192].into_iter()).expect("times");
        assert_eq!(zero.scale, Scale::Log { shift: 1 });
        assert_eq!(zero.ticks[..4], [0, 1, 2, 5]);
        assert!(zero.scale_words().starts_with("log scale of 1 + ms"));
        assert!(zero.x(0, 0.0, 1.0) >= 0.0 && zero.x(0, 0.0, 1.0) < zero.x(1, 0.0, 1.0));

        // Only zeros: nothing spans a decade, the axis still has a length.
        let zeros = Axis::of([0u64, 0].into_iter()).expect("times");
        assert_eq!(zeros.scale, Scale::Linear);
        assert_eq!(zeros.ticks, [0, 1]);
        assert_eq!(Axis::of(std::iter::empty()), None);
    }
}
