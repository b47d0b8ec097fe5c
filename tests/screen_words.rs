//! Every word on the screen is true and readable at 80x24: the header, the Δ column and the
//! reasons, as a new user meets them.

mod common;

use common::Harness;
use crossterm::event::KeyCode;
use rollout_console::app::{Effect, Msg, update};
use rollout_console::domain::judge::JudgeSettings;
use rollout_console::domain::{Sample, Series};
use rollout_console::metrics::{EmptyAnswer, EmptyTrack, FetchRequest, FetchResult, TrackSeries};
use rollout_console::sim::Scenario;
use std::time::Duration;

/// Mann–Whitney on p95 and p99 (one point per query window), no sequential judge: the header
/// shows the Mann–Whitney word.
fn mann_whitney_only(scenario: Scenario, windows: [u64; 2]) -> Harness {
    let mut h = Harness::new(scenario, false);
    for p in &mut h.model.current_mut().panels {
        p.sequential = None;
        p.counters = None;
    }
    for (i, secs) in windows.into_iter().enumerate() {
        h.model.current_mut().panels[i].judge = Some(JudgeSettings {
            allowed_increase: 1.1,
            min_samples: 6,
            ..Default::default()
        });
        h.model.current_mut().panels[i].window = Some(Duration::from_secs(secs));
    }
    h
}

fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

#[test]
fn mann_whitney_collects_while_one_metric_is_short_of_points() {
    let mut h = mann_whitney_only(Scenario::Healthy, [10, 30]);
    h.advance(2);
    // At 80 columns the short form of the same word.
    for (w, hgt, word) in [(80, 24, "judge …"), (160, 48, "judge collecting")] {
        let screen = h.render(w, hgt);
        assert!(header(&screen).contains(word), "{screen}");
    }
    // 75s into step 3 (50%, held 1m30s): p95 has its points, p99 (one per 30s) not yet. Half the
    // metrics short of points forces the score to 0: that is still collecting, not "judge 0/100".
    h.advance(138);
    let classes: Vec<_> = h.model.current().panels[..2]
        .iter()
        .map(|p| p.judge_result.as_ref().map(|r| r.classification))
        .collect();
    use rollout_console::domain::judge::Classification::{NoData, Pass};
    assert_eq!(classes, [Some(Pass), Some(NoData)]);
    for (w, hgt, word) in [(80, 24, "judge …"), (160, 48, "judge collecting")] {
        let screen = h.render(w, hgt);
        assert!(
            !screen.contains("/100"),
            "no score while collecting: {screen}"
        );
        assert!(header(&screen).contains(word), "{screen}");
    }
}

#[test]
fn the_failing_judge_clause_comes_before_the_passing_gate() {
    // p99's gate (max ratio 1.5×) passes the +40% canary; its Mann–Whitney judge fails it.
    let mut h = mann_whitney_only(Scenario::LatencyRegression, [10, 10]);
    h.advance(130);
    h.press(KeyCode::Tab);
    let p99 = &h.model.current().panels[1];
    assert_eq!(p99.verdict(), rollout_console::domain::Verdict::Fail);
    assert!(
        p99.reason().starts_with("judge: canary is higher"),
        "{}",
        p99.reason()
    );
    let screen = h.render(80, 24);
    assert!(
        screen.contains(" p99 latency: judge: canary is higher"),
        "{screen}"
    );
}

/// Poll `secs` more seconds: the rollout reads answer from the simulator, the metrics fetches
/// get `metrics` (`None`: never answered, as when Prometheus hangs).
fn poll_metrics_with(
    h: &mut Harness,
    secs: i64,
    metrics: impl Fn(&FetchRequest) -> Option<FetchResult>,
) {
    let end = h.now + chrono::Duration::seconds(secs);
    while h.now < end {
        h.now += chrono::Duration::seconds(2);
        h.sim.advance_to(h.now);
        let mut effects = update(&mut h.model, Msg::Tick(h.now));
        while let Some(effect) = effects.pop() {
            let msg = match effect {
                Effect::FetchRollout { generation, .. } => Msg::RolloutFetched {
                    generation,
                    at: h.now,
                    result: Ok(h.sim.rollout().clone()),
                },
                Effect::FetchMetrics {
                    generation,
                    request,
                    ..
                } => match metrics(&request) {
                    Some(result) => Msg::MetricsFetched {
                        generation,
                        at: h.now,
                        result,
                    },
                    None => continue,
                },
                _ => continue,
            };
            effects.extend(update(&mut h.model, msg));
        }
    }
}

#[test]
fn the_header_ages_each_source_and_marks_the_failing_one() {
    // Prometheus hangs; the backend answers every read.
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    poll_metrics_with(&mut h, 4, |_| None);
    let screen = h.render(80, 24);
    assert!(header(&screen).contains("polled 4s ago"), "{screen}");
    poll_metrics_with(&mut h, 44, |_| None);
    for (w, hgt) in [(80, 24), (160, 48)] {
        let screen = h.render(w, hgt);
        let top = header(&screen);
        assert!(top.contains("STALE: metrics 48s"), "{screen}");
        assert!(top.contains('✗'), "{screen}");
        assert!(!top.contains("polled 0s"), "{screen}");
    }
    assert!(
        header(&h.render(160, 48)).contains("STALE: metrics 48s ago ✗ · rollout 0s ago"),
        "{}",
        h.render(160, 48)
    );
    // Prometheus answers again, with errors: failing, not yet stale.
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    poll_metrics_with(&mut h, 2, |req| {
        Some(FetchResult {
            metrics: req
                .metrics
                .iter()
                .map(|m| (m.name.clone(), Err("cannot reach Prometheus".into())))
                .collect(),
            ..FetchResult::default()
        })
    });
    let screen = h.render(80, 24);
    assert!(header(&screen).contains("metrics 2s ago ✗"), "{screen}");
    assert!(!header(&screen).contains("STALE"), "{screen}");
    // Prometheus never answered since the start.
    h.model = rollout_console::app::model::Model::new(
        common::settings(false),
        rollout_console::setup::demo_panels::metric_panels(),
        vec![],
        h.now,
    );
    poll_metrics_with(&mut h, 30, |_| None);
    let wide = h.render(160, 48);
    assert!(
        header(&wide).contains("STALE: metrics no answer yet ✗ · rollout 0s ago"),
        "{wide}"
    );
}

#[test]
fn the_header_keeps_state_step_and_read_only_at_80_columns() {
    let mut h = Harness::new(Scenario::SlowBurn, true);
    h.model.settings.rollout_name = "checkout-payments-eu-west-1-blue".into();
    h.model.current_mut().name = "checkout-payments-eu-west-1-blue".into();
    h.sim.rollout_mut().stable_version = "v1.2.2-rc.4+build.20261122".into();
    h.sim.rollout_mut().canary_version = "v1.2.3-rc.1+build.20261123".into();
    h.advance(20);
    let screen = h.render(80, 24);
    let top = header(&screen);
    for word in [
        "PROGRESSING",
        "step 1/4 · 5%",
        "READ-ONLY",
        "judge …",
        "ago",
    ] {
        assert!(top.contains(word), "{word} missing: {top}");
    }
    insta::assert_snapshot!("long_names_read_only_80x24", screen);
}

/// The demo's request rate and error rate, answered with a canary many times the baseline.
fn surge(req: &FetchRequest, at: chrono::DateTime<chrono::Utc>) -> FetchResult {
    let series = |v: f64| Series::new(vec![Sample { at, value: v }]);
    let pair = |b: f64, c: f64| TrackSeries {
        baseline: series(b),
        canary: series(c),
    };
    FetchResult {
        metrics: req
            .metrics
            .iter()
            .map(|m| {
                let s = match m.name.as_str() {
                    "request rate" => pair(100.0, 15_484.7),
                    "error rate" => pair(0.000_138, 0.0214),
                    "p95 latency" => pair(0.180, 0.181),
                    _ => pair(0.250, 0.251),
                };
                (m.name.clone(), Ok(s))
            })
            .collect(),
        ..FetchResult::default()
    }
}

#[test]
fn the_delta_column_shortens_numbers_and_never_runs_into_the_next() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    let at = h.now + chrono::Duration::seconds(2);
    poll_metrics_with(&mut h, 2, |req| Some(surge(req, at)));
    let screen = h.render(80, 24);
    let row = |name: &str| {
        screen
            .lines()
            .find(|l| l.starts_with(&format!("\"{name}")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row(" request rate").contains(" +15.4k rps "), "{screen}");
    assert!(row(" error rate").contains(" +2.13% >999% "), "{screen}");
    insta::assert_snapshot!("delta_overflow_80x24", screen);
}

/// A healthy demo's harness with its metric panels new (no answer yet), the first focused.
fn fresh_panels_focused_on_the_first() -> Harness {
    let mut h = Harness::new(Scenario::Healthy, false);
    let mut model = rollout_console::app::model::Model::new(
        common::settings(false),
        rollout_console::setup::demo_panels::metric_panels(),
        vec![],
        h.now,
    );
    model.current_mut().focus = 0;
    h.model = model;
    h
}

#[test]
fn an_empty_answer_says_which_is_empty() {
    let mut h = fresh_panels_focused_on_the_first();
    let at = h.now + chrono::Duration::seconds(2);
    poll_metrics_with(&mut h, 2, |req| {
        let mut r = surge(req, at);
        for (name, s) in &mut r.metrics {
            if name == "p95 latency" || name == "p99 latency" {
                *s = Ok(TrackSeries::default());
            }
        }
        r.empty = vec![
            (
                "p95 latency".into(),
                EmptyAnswer::MetricMissing {
                    name: "http_request_duration_seconds_bucket".into(),
                },
            ),
            (
                "p99 latency".into(),
                EmptyAnswer::SelectorEmpty {
                    track: EmptyTrack::Both,
                },
            ),
        ];
        Some(r)
    });
    let screen = h.render(80, 24);
    assert!(
        screen.contains(" p95 latency: no series: Prometheus has no metric named http_request"),
        "{screen}"
    );
    assert!(!screen.contains("waiting for the first answer"), "{screen}");
    let wide = h.render(160, 48);
    assert!(
        wide.contains("no series for either track: the metric exists, but"),
        "{wide}"
    );
    insta::assert_snapshot!("empty_answer_160x48", wide);
}

/// `explain`'s words on the console: the focused reason line shows the first finding (cut to the
/// line), Enter shows every finding whole, wrapped, with the pointer to `explain`.
#[test]
fn an_explained_empty_answer_shows_explains_words() {
    let mut h = fresh_panels_focused_on_the_first();
    let at = h.now + chrono::Duration::seconds(2);
    let typo = r#"label job: no series of http_request_duration_seconds_bucket{track="canary"} has job="chekout"; job has: checkout, prometheus"#;
    let few = r#"http_request_duration_seconds_bucket{job="checkout", track="canary"} has at most 1 sample(s) per series in [10s]: a rate needs 2. Series scraped for less than the window (a new pod, a new Prometheus) fill it within 10s; otherwise make the window at least twice the scrape interval"#;
    poll_metrics_with(&mut h, 2, |req| {
        let mut r = surge(req, at);
        for (name, s) in &mut r.metrics {
            if name == "p95 latency" {
                *s = Ok(TrackSeries::default());
            }
        }
        r.empty = vec![(
            "p95 latency".into(),
            EmptyAnswer::Diagnosed {
                track: EmptyTrack::Canary,
                words: vec![typo.into(), few.into()],
            },
        )];
        Some(r)
    });
    let screen = h.render(80, 24);
    let reason = screen
        .lines()
        .find(|l| l.contains(" p95 latency: no series"))
        .unwrap_or_default();
    assert!(
        reason.contains(" p95 latency: no series for the canary: label job: no series of"),
        "{screen}"
    );
    h.press(KeyCode::Enter);
    let detail = h.render(80, 24);
    // Every word of both findings, wrapped at the view's width: nothing cut.
    let words = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .filter(|w| !w.chars().all(|c| "\"│•─┌┐└┘".contains(c)))
            .map(String::from)
            .collect()
    };
    let shown = words(&detail).join(" ");
    assert!(shown.contains(&words(typo).join(" ")), "{detail}");
    assert!(
        detail.contains(r#"job="chekout"; job has: checkout"#),
        "{detail}"
    );
    assert!(
        detail.contains("run: rollout-console explain --rollout checkout"),
        "{detail}"
    );
    insta::assert_snapshot!("explained_empty_detail_80x24", detail);
    let tall = h.render(80, 60);
    assert!(
        words(&tall).join(" ").contains(&words(few).join(" ")),
        "{tall}"
    );
}
