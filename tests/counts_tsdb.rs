//! Exact request counts from raw counters, against a REAL Prometheus and a REAL VictoriaMetrics:
//! `rollout-console simulate` serves /metrics, the engine scrapes it every second, and
//! `PrometheusSource` counts the histogram's buckets and the `[failed, ok]` requests per track
//! between the points of the shared grid. The counts must be whole requests and add up exactly
//! to the raw counters the engine holds (read back with queries of our own), also across a
//! restart of the simulator (a counter reset, with the gap a restart may leave).

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rollout_console::config::PrometheusConfig;
use rollout_console::domain::counts::{CountKind, Counts, grid};
use rollout_console::metrics::client::PrometheusClient;
use rollout_console::metrics::source::{PrometheusSource, Selectors};
use rollout_console::metrics::{
    Counters, CountsQuery, FetchRequest, FetchResult, MetricQuery, MetricsSource,
};
use simulate::Simulate;
use tsdb::{Engine, Tsdb, instant_samples, range_series, single_value};

const BUCKETS: &str = "http_request_duration_seconds_bucket{$selector}";
const ERRORS: &str = "http_requests_total{$selector, code=~\"5..\"}";
const TOTAL: &str = "http_requests_total{$selector}";
const BASELINE: &str = "job=\"checkout\", track=\"baseline\"";
const CANARY: &str = "job=\"checkout\", track=\"canary\"";
const TRACKS: [(&str, &str); 2] = [("baseline", BASELINE), ("canary", CANARY)];
/// The canary fails 0.25% of its requests: some 5xx on both tracks within the run.
const SCENARIO: &str = "slow-burn";
const STEP: Duration = Duration::from_secs(2);
/// How far behind "now" a fetch looks: VictoriaMetrics < 1.88 rewrites the points of the last
/// second (see tests/common/tsdb.rs), and a scrape takes a moment to become visible.
const SETTLE: Duration = Duration::from_secs(3);

/// "Now" for a fetch: `SETTLE` ago.
fn settled_now() -> DateTime<Utc> {
    Utc::now() - chrono::TimeDelta::from_std(SETTLE).expect("settle")
}

/// The grid the source counts on as of `now`: it reads raw counters up to a step ago.
fn counted_grid(since: DateTime<Utc>, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    grid(
        since,
        now - chrono::TimeDelta::from_std(STEP).expect("step"),
        STEP,
    )
}

fn source(url: &str) -> PrometheusSource {
    let cfg = PrometheusConfig {
        timeout: Duration::from_secs(10),
        max_queries_per_second: toml::Spanned::new(0..0, 1000.0),
        ..PrometheusConfig::for_url(url)
    };
    let selectors = Selectors {
        baseline: BASELINE.into(),
        canary: CANARY.into(),
        service: "job=\"checkout\"".into(),
        rollout: "checkout".into(),
    };
    PrometheusSource::new(PrometheusClient::new(&cfg).expect("client"), selectors)
}

/// Both kinds of counts since `since`, as of `now`.
fn fetch(src: &PrometheusSource, since: DateTime<Utc>, now: DateTime<Utc>) -> (Counts, Counts) {
    let metric = |name: &str, counters: Counters| MetricQuery {
        name: name.into(),
        query: "sum(http_requests_total{$selector})".into(),
        window: None,
        counts: Some(CountsQuery { counters, since }),
    };
    let request = FetchRequest {
        now,
        lookback: Duration::from_secs(60),
        step: STEP,
        metrics: vec![
            metric("latency", Counters::Histogram(BUCKETS.into())),
            metric(
                "errors",
                Counters::Ratio {
                    errors: ERRORS.into(),
                    total: TOTAL.into(),
                },
            ),
        ],
        slos: vec![],
        tracks: None,
        priority: rollout_console::metrics::Priority::Open,
        rollout: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let FetchResult {
        counts,
        warnings,
        queries,
        ..
    } = runtime.block_on(src.fetch(&request));
    assert!(warnings.is_empty(), "{warnings:?}");
    // Two metric queries each, and one raw query per counter per track.
    assert_eq!(queries, 2 * 2 + 2 + 4);
    let mut counts = counts
        .into_iter()
        .map(|(name, result)| result.unwrap_or_else(|e| panic!("{name}: {e}")));
    let (Some(latency), Some(errors), None) = (counts.next(), counts.next(), counts.next()) else {
        panic!("expected the counts of two metrics")
    };
    (latency, errors)
}

fn secs(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

/// The raw sum of `promql` at each grid point, read back from the engine (`None`: no sample).
fn raw_points(tsdb: &Tsdb, promql: &str, points: &[DateTime<Utc>]) -> Vec<Option<f64>> {
    let (first, last) = (points[0], points[points.len() - 1]);
    let answer = tsdb.query_range(promql, secs(first), secs(last), STEP.as_secs());
    let series = range_series(&answer);
    assert!(series.len() <= 1, "{promql}: {answer}");
    let values: BTreeMap<i64, f64> = series
        .first()
        .map(|(_, ps)| ps.iter().map(|(t, v)| (t.round() as i64, *v)).collect())
        .unwrap_or_default();
    points
        .iter()
        .map(|p| values.get(&secs(*p)).copied())
        .collect()
}

/// What each block should count, from raw points: the increment since the last value seen,
/// or the new value after a reset. Also the index of the first block with a reset.
fn expected_blocks(points: &[Option<f64>]) -> (Vec<f64>, Option<usize>) {
    let mut last = points[0];
    assert!(last.is_some(), "the first grid point must see the counter");
    let mut reset = None;
    let blocks = points[1..]
        .iter()
        .enumerate()
        .map(|(block, value)| {
            let Some(value) = *value else { return 0.0 };
            let previous = last.replace(value).unwrap_or(0.0);
            if value < previous {
                reset.get_or_insert(block);
                value
            } else {
                value - previous
            }
        })
        .collect();
    (blocks, reset)
}

fn track(counts: &Counts, which: &str) -> Vec<Vec<f64>> {
    counts
        .blocks()
        .map(|b| match which {
            "baseline" => b.baseline.to_vec(),
            _ => b.canary.to_vec(),
        })
        .collect()
}

/// Whole, non-negative numbers everywhere; block edges on the grid.
fn check_shape(counts: &Counts, points: &[DateTime<Utc>]) {
    assert_eq!(counts.len(), points.len() - 1);
    for (block, pair) in counts.blocks().zip(points.windows(2)) {
        assert_eq!((block.start, block.end), (pair[0], pair[1]));
        let categories = counts.kind.categories();
        assert_eq!(block.baseline.len(), categories);
        assert_eq!(block.canary.len(), categories);
        for v in block.baseline.iter().chain(block.canary) {
            assert!(*v >= 0.0 && v.fract() == 0.0, "{v} in {block:?}");
        }
    }
}

fn plus_inf(selector: &str) -> String {
    format!("sum(http_request_duration_seconds_bucket{{{selector}, le=\"+Inf\"}})")
}

/// Wait until the engine shows both tracks' requests below where they were before the restart.
fn wait_for_reset(tsdb: &Tsdb, before: &[f64]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now: Vec<Option<f64>> = TRACKS
            .iter()
            .map(|(_, s)| {
                instant_samples(&tsdb.query(&plus_inf(s)))
                    .first()
                    .map(|(_, v)| *v)
            })
            .collect();
        if now
            .iter()
            .zip(before)
            .all(|(n, b)| n.is_some_and(|n| n < *b))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the restart never showed: {now:?}, before {before:?}",
            tsdb.engine.name()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn run(engine: Engine) {
    let started = Instant::now();
    let mut sim = Simulate::start(SCENARIO);
    let tsdb = Tsdb::start(engine, &[sim.addr.as_str()], Duration::from_secs(1));
    tsdb.wait_for_series(
        "http_requests_total{job=\"checkout\",track=\"canary\"}",
        Duration::from_secs(40),
    );
    // The first grid point (at or before `since`) must come after the first scrape, or every
    // series would be "first seen later": a new series, counted from 0.
    let since = Utc::now() + chrono::Duration::from_std(STEP).expect("step");
    let src = source(&tsdb.url);
    let ready = started.elapsed();

    // ---- Exact counts over ~14 s of scrapes ----
    std::thread::sleep(Duration::from_secs(16));
    let now = settled_now();
    let (latency, errors) = fetch(&src, since, now);
    let points = counted_grid(since, now);
    assert!(points.len() >= 5, "{points:?}");
    let CountKind::Latency { bounds } = &latency.kind else {
        panic!("{:?}", latency.kind)
    };
    assert_eq!(bounds.len(), 25, "{bounds:?}");
    assert_eq!(bounds.last(), Some(&f64::INFINITY));
    assert_eq!(errors.kind, CountKind::Errors);
    check_shape(&latency, &points);
    check_shape(&errors, &points);
    let (first, last) = (points[0], points[points.len() - 1]);
    for (name, selector) in TRACKS {
        let requests =
            format!("sum(http_request_duration_seconds_bucket{{{selector}, le=\"+Inf\"}})");
        let failed = format!("sum(http_requests_total{{{selector}, code=~\"5..\"}})");
        // The raw counters at the first and last points, by instant queries.
        let at = |q: &str, t: DateTime<Utc>| single_value(&tsdb.query_at(q, secs(t)));
        let want_requests = at(&requests, last) - at(&requests, first);
        let want_failed = at(&failed, last) - at(&failed, first);
        assert!(want_requests > 0.0, "{name}: no requests in the run");

        let histogram = track(&latency, name);
        let ratio = track(&errors, name);
        let per_block: Vec<f64> = histogram.iter().map(|b| b.iter().sum()).collect();
        assert_eq!(
            per_block.iter().sum::<f64>(),
            want_requests,
            "{name} buckets"
        );
        let ratio_total: Vec<f64> = ratio.iter().map(|b| b[0] + b[1]).collect();
        assert_eq!(
            ratio_total, per_block,
            "{name}: [failed, ok] vs the histogram, per block"
        );
        let failed_total: f64 = ratio.iter().map(|b| b[0]).sum();
        assert_eq!(failed_total, want_failed, "{name} failed");

        // Block by block against the raw +Inf counter read back over the grid.
        let (want, reset) = expected_blocks(&raw_points(&tsdb, &requests, &points));
        assert_eq!(reset, None);
        assert_eq!(per_block, want, "{name} per block");
        eprintln!(
            "{}: {name}: {want_requests} requests ({want_failed} failed) in {} blocks: {per_block:?}",
            engine.name(),
            per_block.len()
        );
    }

    // ---- A counter reset: the simulator restarts on the same port ----
    let before_restart: Vec<f64> = TRACKS
        .iter()
        .map(|(_, s)| single_value(&tsdb.query(&plus_inf(s))))
        .collect();
    // Down for longer than a step, so a grid point or two may see no sample (a scrape gap).
    sim.restart(SCENARIO, Duration::from_millis(2_500));
    wait_for_reset(&tsdb, &before_restart);
    // The source counts up to a step before `now`, itself `SETTLE` ago: the reset must be past
    // both, by a grid point.
    std::thread::sleep(SETTLE + 2 * STEP);
    let now = settled_now();
    let (latency, errors) = fetch(&src, since, now);
    // `src` read its counters incrementally (the points since its first poll, across the
    // restart's gap): the same counts as a new source reading the whole range.
    let (whole_latency, whole_errors) = fetch(&source(&tsdb.url), since, now);
    assert_eq!(latency, whole_latency, "incremental latency counts");
    assert_eq!(errors, whole_errors, "incremental error counts");
    let points = counted_grid(since, now);
    check_shape(&latency, &points);
    check_shape(&errors, &points);
    for ((name, selector), before) in TRACKS.into_iter().zip(before_restart) {
        let requests =
            format!("sum(http_request_duration_seconds_bucket{{{selector}, le=\"+Inf\"}})");
        let raw = raw_points(&tsdb, &requests, &points);
        let (want, reset) = expected_blocks(&raw);
        let Some(reset) = reset else {
            panic!("{name}: no reset seen over the grid: {raw:?} (before the restart: {before})")
        };
        let new_value = raw[reset + 1].expect("a value where the reset shows");
        assert!(
            new_value < before,
            "{name}: {new_value} after, {before} before"
        );
        let histogram = track(&latency, name);
        let per_block: Vec<f64> = histogram.iter().map(|b| b.iter().sum()).collect();
        // The block where the new process shows counts everything it counted: its value.
        assert_eq!(per_block[reset], new_value, "{name}: {per_block:?}");
        assert_eq!(per_block, want, "{name} per block, raw {raw:?}");
        // [failed, ok] agree with the histogram outside the reset (where a 5xx counter that did
        // not move between the processes cannot show its reset).
        let ratio = track(&errors, name);
        for (i, (b, total)) in ratio.iter().zip(&per_block).enumerate() {
            if i == reset {
                assert!(b[0] + b[1] <= *total, "{name} block {i}: {b:?} vs {total}");
            } else {
                assert_eq!(b[0] + b[1], *total, "{name} block {i}");
            }
        }
        eprintln!(
            "{}: {name}: reset in block {reset} of {}: {new_value} after {before} (raw {raw:?})",
            engine.name(),
            per_block.len()
        );
    }
    eprintln!(
        "{}: ready after {ready:?}, done after {:?}",
        engine.name(),
        started.elapsed()
    );
}

#[test]
fn prometheus_counts_are_exact_and_survive_a_reset() {
    run(Engine::Prometheus);
}

#[test]
fn victoria_metrics_counts_are_exact_and_survive_a_reset() {
    run(Engine::VictoriaMetrics);
}
