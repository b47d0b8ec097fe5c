//! Grouped queries against a real Prometheus scraping `simulate --fleet 4`: one query per metric
//! for the whole fleet gives each rollout the same numbers as its own two queries do.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use chrono::Utc;
use std::time::Duration;

#[path = "common/fleet_request.rs"]
mod fleet_request;

use fleet_request::{NAMES, fleet_scraped_by_prometheus, member_request, source};
use rollout_console::metrics::{FetchRequest, FetchResult, MetricQuery, MetricsSource, SloQuery};

fn request(name: &str, now: chrono::DateTime<Utc>, grouped: bool) -> FetchRequest {
    let q = |metric: &str, query: &str| MetricQuery {
        name: metric.into(),
        query: query.into(),
        window: Some(Duration::from_secs(10)),
        counts: None,
    };
    let mut request = member_request(
        name,
        now,
        vec![
            q(
                "p95 latency",
                "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
            ),
            q(
                "error rate",
                r#"sum(rate(http_requests_total{$selector, code=~"5.."}[$window])) / sum(rate(http_requests_total{$selector}[$window]))"#,
            ),
        ],
        grouped,
        vec![None; NAMES.len()],
    );
    request.slos = vec![SloQuery {
        name: "availability".into(),
        error_ratio: r#"sum(rate(http_requests_total{$service, code=~"5.."}[$window])) / sum(rate(http_requests_total{$service}[$window]))"#.into(),
        window: Duration::from_secs(30 * 86_400),
        recorded: vec![],
    }];
    request
}

/// Every member's series agree, point for point, between two answers to the same poll.
fn same_series(name: &str, what: &str, a: &FetchResult, b: &FetchResult, slos: bool) {
    for ((metric, a), (_, b)) in a.metrics.iter().zip(&b.metrics) {
        let a = a
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} {metric} {what}: {e}"));
        let b = b
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} {metric} {what} grouped: {e}"));
        for (track, a, b) in [
            ("baseline", &a.baseline, &b.baseline),
            ("canary", &a.canary, &b.canary),
        ] {
            assert!(a.points.len() >= 8, "{name} {metric} {track}: {a:?}");
            assert_eq!(
                a.points.len(),
                b.points.len(),
                "{name} {metric} {track} {what}"
            );
            for (x, y) in a.points.iter().zip(&b.points) {
                assert_eq!(x.at, y.at, "{name} {metric} {track} {what}");
                let same = (x.value.is_nan() && y.value.is_nan())
                    || (x.value - y.value).abs() <= 1e-9 * x.value.abs().max(1e-12);
                assert!(
                    same,
                    "{name} {metric} {track} {what}: {} vs {}",
                    x.value, y.value
                );
            }
        }
    }
    if !slos {
        return;
    }
    // The SLO's windows: the same ratio each way.
    assert_eq!(a.slos.len(), b.slos.len(), "{name} {what}");
    for ((slo, a), (_, b)) in a.slos.iter().zip(&b.slos) {
        let a = a
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} {slo} {what}: {e}"));
        let b = b
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} {slo} {what} grouped: {e}"));
        let ratios = |m: &rollout_console::domain::slo::SloMeasurement| {
            std::iter::once(m.error_ratio)
                .chain(m.window_ratios.iter().map(|(_, v)| *v))
                .collect::<Vec<_>>()
        };
        let (ra, rb) = (ratios(a), ratios(b));
        assert_eq!(ra.len(), rb.len());
        assert!(ra[0].is_some(), "{name} {slo}: the 30d ratio has data");
        for (x, y) in ra.iter().zip(&rb) {
            let same = match (x, y) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1e-12),
                (None, None) => true,
                _ => false,
            };
            assert!(same, "{name} {slo} {what}: {ra:?} vs {rb:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_grouped_query_per_metric_gives_each_rollout_its_own_numbers() {
    let (_sim, prom) = fleet_scraped_by_prometheus();
    tokio::time::sleep(Duration::from_secs(15)).await;
    // A fixed instant in the past: both ways read the same, settled samples.
    let now = Utc::now() - chrono::Duration::seconds(3);
    let per_rollout = source(&prom.url);
    let grouped = source(&prom.url);
    let mut queries = (0, 0);
    for name in NAMES {
        let own = per_rollout.fetch(&request(name, now, false)).await;
        let all = grouped.fetch(&request(name, now, true)).await;
        queries.0 += own.queries;
        queries.1 += all.queries;
        same_series(name, "first", &own, &all, true);
    }
    // Two queries per metric per rollout one way, one per metric for the fleet the other; an
    // SLO's 8 windows per rollout one way, 8 for the fleet the other.
    assert_eq!(queries, (NAMES.len() * (2 * 2 + 8), 2 + 8), "{queries:?}");

    // Some steps later the grouped answer is extended from its last point, and still gives
    // what a fleet asked whole gives (and what each rollout's own queries give).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let later = Utc::now() - chrono::Duration::seconds(3);
    let asked_whole = source(&prom.url);
    let samples = |r: &FetchResult| r.samples_touched.unwrap_or(0);
    let (mut touched, mut touched_whole) = (0, 0);
    for name in NAMES {
        let own = per_rollout.fetch(&request(name, later, false)).await;
        let all = grouped.fetch(&request(name, later, true)).await;
        let whole = asked_whole.fetch(&request(name, later, true)).await;
        // The extended source's SLO answer is the first round's (fresh for a minute); the
        // whole one's is asked now, like each rollout's own.
        same_series(name, "later, own and extended", &own, &all, false);
        same_series(name, "later, whole and extended", &whole, &all, false);
        same_series(name, "later, own and whole", &own, &whole, true);
        touched += samples(&all);
        touched_whole += samples(&whole);
    }
    // Prometheus counts a fixed part per query besides the points' own samples (measured:
    // 15,680 samples for 7 points against 30,240 for 31), so only "fewer" is the engine's
    // promise; the points asked are `group_ranges`' tests'.
    assert!(
        touched > 0 && touched < touched_whole,
        "an extension of some steps touches less than a whole read: {touched} vs {touched_whole}"
    );

    // A long read (an old fleet's step) is asked in pieces of at most 360 points, and the
    // pieces together give what each rollout's own single query gives.
    let long = |name: &str, grouped: bool| {
        let mut r = request(name, later, grouped);
        r.lookback = Duration::from_secs(370);
        if let Some(group) = r.rollout.as_mut().and_then(|f| f.group.as_mut()) {
            group.lookback = r.lookback;
        }
        r
    };
    let (per_rollout, grouped) = (source(&prom.url), source(&prom.url));
    let mut pieces = 0;
    for name in NAMES {
        let own = per_rollout.fetch(&long(name, false)).await;
        let all = grouped.fetch(&long(name, true)).await;
        pieces += all.queries;
        same_series(name, "a long read, own and in pieces", &own, &all, true);
    }
    // 371 points at 1 s: two pieces per metric (the last 11 points in the second, inside the
    // scraped data), and the SLO's 8 windows, for the whole fleet.
    assert_eq!(pieces, 2 * 2 + 8, "queries for the long grouped read");
}
