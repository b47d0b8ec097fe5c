//! The metrics' answer: each panel's series, gate evaluation and judges (the Mann–Whitney
//! classification, the sequential test on the counts), the SLOs, and what changed, as events.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::app::explain::alert_label;
use crate::app::model::{EventLevel, MetricPanel, Model};
use crate::domain::counts::Counts;
use crate::domain::gate::DEFAULT_MIN_REQUESTS;
use crate::domain::sequential::{self, Decision};
use crate::domain::{Rollout, Unit, Verdict};
use crate::metrics::FetchResult;

/// The steps' starts, oldest first, for the judge's warm-up.
fn step_starts(r: &Rollout) -> Vec<DateTime<Utc>> {
    let mut starts: Vec<DateTime<Utc>> = r.history.iter().map(|h| h.started_at).collect();
    if !starts.contains(&r.step_started_at) {
        starts.push(r.step_started_at);
    }
    starts.sort();
    starts
}

/// Canary requests behind each canary point (its window), where the counts cover that window.
fn requests_behind(
    counts: &Counts,
    points: &crate::domain::Series,
    window: Duration,
) -> Vec<(DateTime<Utc>, f64)> {
    let Some(first) = counts.first().map(|b| b.start) else {
        return Vec::new();
    };
    let span = chrono::Duration::from_std(window).unwrap_or_default();
    let ats: Vec<DateTime<Utc>> = points
        .points
        .iter()
        .map(|p| p.at)
        .filter(|at| *at - span >= first)
        .collect();
    // Counters are read a step behind the series (only settled points): a point past the last
    // count is told the requests of the newest whole window, not a window short of a block.
    let counted_to = counts.last().map_or(first, |b| b.end);
    let within: Vec<DateTime<Utc>> = ats.iter().map(|at| (*at).min(counted_to)).collect();
    let requests = counts.canary_requests_within_each(&within, window);
    ats.into_iter().zip(requests).collect()
}

pub(super) fn apply_metrics(model: &mut Model, i: usize, at: DateTime<Utc>, result: FetchResult) {
    model.rollouts[i].polls.queries_last_poll = result.queries;
    let poll = model.settings.poll_interval;
    // The judge compares the points of the current step only: the canary at its current weight.
    let step_start = model.rollouts[i]
        .rollout
        .as_ref()
        .map(|r| r.step_started_at);
    let alpha = model.sequential_alpha_per_metric(i);
    let rollout = model.rollouts[i].rollout.clone();
    let mut counts_by_name = result.counts;
    let mut empty_by_name = result.empty;
    let mut events = Vec::new();
    for (name, answer) in result.metrics {
        let Some(panel) = model.rollouts[i]
            .panels
            .iter_mut()
            .find(|p| p.def.name == name)
        else {
            continue;
        };
        let before = panel.verdict();
        let was_known = panel.eval.is_some() || panel.sequential_result.is_some();
        let counts = counts_by_name
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| counts_by_name.swap_remove(i).1);
        let counts = match counts {
            Some(Ok(counts)) => {
                if panel.counts_error.take().is_some() {
                    events.push((EventLevel::Good, format!("{name}: requests counted again")));
                }
                if let (Some(settings), Some(r)) = (panel.sequential, &rollout) {
                    judge_counts(panel, &settings, &counts, r, alpha, model.now);
                }
                let ended = rollout.as_ref().is_some_and(|r| r.state.is_terminal());
                panel.counted_to_the_end = ended && panel.ended_at_last_count;
                panel.ended_at_last_count = ended;
                Some(counts)
            }
            Some(Err(e)) => {
                if panel.counts_error.as_deref() != Some(e.as_str()) {
                    events.push((EventLevel::Bad, format!("{name}: counting requests: {e}")));
                }
                panel.counts_error = Some(e);
                None
            }
            None => None,
        };
        match answer {
            Ok(series) => {
                let requests = counts.as_ref().map(|c| {
                    requests_behind(
                        c,
                        &series.canary,
                        panel
                            .window
                            .unwrap_or(crate::metrics::source::DEFAULT_WINDOW),
                    )
                });
                let min_requests = panel.def.gate.min_requests.or_else(|| {
                    matches!(panel.def.unit, Unit::Ratio | Unit::Percent)
                        .then_some(DEFAULT_MIN_REQUESTS)
                });
                let eval = panel.def.gate.evaluate_counted(
                    &panel.def.name,
                    panel.def.unit,
                    &series.baseline,
                    &series.canary,
                    poll,
                    requests.as_deref().zip(min_requests),
                );
                if series.canary.latest().is_some() || series.baseline.latest().is_some() {
                    panel.last_good = Some(at);
                }
                if panel.error.take().is_some() {
                    events.push((EventLevel::Good, format!("{name}: query answers again")));
                }
                if let Some(settings) = &panel.judge {
                    // One point per query window: overlapping windows are not independent.
                    let spacing = panel
                        .window
                        .unwrap_or(crate::metrics::source::DEFAULT_WINDOW);
                    let in_step = |s: &crate::domain::Series| -> Vec<f64> {
                        let points: Vec<crate::domain::Sample> = s
                            .points
                            .iter()
                            .filter(|p| step_start.is_none_or(|t| p.at >= t))
                            .copied()
                            .collect();
                        crate::domain::judge::independent_points(&points, spacing)
                    };
                    let (b, c) = (in_step(&series.baseline), in_step(&series.canary));
                    panel.judge_result = Some(crate::domain::judge::classify(
                        &b,
                        &c,
                        settings,
                        panel.def.unit,
                    ));
                }
                panel.step_gate = step_start.map(|start| {
                    let says = crate::domain::readiness::step_gate(
                        &panel.def.gate,
                        &series.baseline,
                        &series.canary,
                        start,
                    );
                    (start, says)
                });
                panel.series = series;
                panel.eval = Some(eval);
                panel.empty = empty_by_name
                    .iter()
                    .position(|(n, _)| *n == name)
                    .map(|i| empty_by_name.swap_remove(i).1);
            }
            Err(e) => {
                if panel.error.as_deref() != Some(e.as_str()) {
                    events.push((EventLevel::Bad, format!("{name}: {e}")));
                }
                panel.error = Some(e);
            }
        }
        let after = panel.verdict();
        // Counting starting (first counts, or a new step judged afresh) is not news; any other
        // change is.
        let started =
            matches!(before, Verdict::NoData | Verdict::Pass) && after == Verdict::Collecting;
        if before != after && was_known && !started {
            let level = match after {
                Verdict::Pass => EventLevel::Good,
                Verdict::Fail => EventLevel::Bad,
                _ => EventLevel::Warn,
            };
            let reason = panel.reason();
            events.push((
                level,
                format!("{name}: {} → {} ({reason})", before.label(), after.label()),
            ));
        }
    }
    if !result.slos.is_empty() {
        model.rollouts[i].polls.slos_answered = Some(at);
    }
    for (name, answer) in result.slos {
        let Some(slo) = model.rollouts[i]
            .slos
            .iter_mut()
            .find(|s| s.def.name == name)
        else {
            continue;
        };
        match answer {
            Ok(m) => {
                let status = slo.def.evaluate(&m);
                if status.alert != slo.status.as_ref().and_then(|s| s.alert)
                    && let Some(alert) = status.alert
                {
                    let what = alert_label(alert);
                    events.push((
                        EventLevel::Bad,
                        format!("SLO {name}: burn-rate alert {what} (multi-window)"),
                    ));
                }
                slo.status = Some(status);
                slo.last_good = Some(at);
                slo.error = None;
            }
            Err(e) => {
                if slo.error.as_deref() != Some(e.as_str()) {
                    events.push((EventLevel::Bad, format!("SLO {name}: {e}")));
                }
                slo.error = Some(e);
            }
        }
    }
    // Prometheus repeats a warning on every answer: say it once, and again only after it went away.
    for w in &result.warnings {
        if !model.rollouts[i].metrics_warnings.contains(w) {
            events.push((EventLevel::Warn, format!("metrics warning: {w}")));
        }
    }
    model.rollouts[i].metrics_warnings = result.warnings;
    for (level, text) in events {
        model.push_event_to(i, level, text);
    }
}

/// Run the sequential judge on the counts; a FAIL stays for the canary version it was found on.
fn judge_counts(
    panel: &mut MetricPanel,
    settings: &sequential::SequentialSettings,
    counts: &Counts,
    r: &Rollout,
    alpha: f64,
    now: DateTime<Utc>,
) {
    let context = sequential::Context {
        alpha,
        step_starts: step_starts(r),
        // A rollout that has ended holds no more: no "hold ended" PASS after a rollback.
        hold_left: (!r.state.is_terminal())
            .then(|| r.hold_remaining(now))
            .flatten(),
    };
    let mut result = sequential::evaluate(counts, settings, &context);
    if r.state.is_terminal() {
        result = result.ended(settings);
    }
    if panel
        .sticky_fail
        .as_ref()
        .is_some_and(|(version, _)| *version != r.canary_version)
    {
        panel.sticky_fail = None;
    }
    if result.decision == Decision::Fail && panel.sticky_fail.is_none() {
        panel.sticky_fail = Some((r.canary_version.clone(), result.clone()));
    }
    panel.sequential_result = Some(result);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Sample;
    use crate::domain::counts::CountKind;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).expect("time")
    }

    /// The counters are read a step behind the series: the newest point is told the newest
    /// whole window counted, not a window missing its last block.
    #[test]
    fn a_point_past_the_counts_is_told_the_newest_whole_window() {
        let mut counts = Counts::new(CountKind::Errors);
        for k in 0..6 {
            counts.push(
                at(k * 10),
                at(k * 10 + 10),
                &[0.0, 100.0],
                &[1.0, 9.0 + k as f64],
            );
        }
        let points = crate::domain::Series::new(
            [30, 40, 50, 60, 70]
                .into_iter()
                .map(|s| Sample {
                    at: at(s),
                    value: 0.0,
                })
                .collect(),
        );
        let got = requests_behind(&counts, &points, Duration::from_secs(30));
        // Blocks end at 10..=60 with 10..=15 canary requests; 70 is past the last one.
        assert_eq!(
            got,
            [
                (at(30), 10.0 + 11.0 + 12.0),
                (at(40), 11.0 + 12.0 + 13.0),
                (at(50), 12.0 + 13.0 + 14.0),
                (at(60), 13.0 + 14.0 + 15.0),
                (at(70), 13.0 + 14.0 + 15.0),
            ]
        );
    }
}
