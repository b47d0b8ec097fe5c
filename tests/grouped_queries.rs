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
use rollout_console::metrics::{FetchRequest, MetricQuery, MetricsSource};

fn request(name: &str, now: chrono::DateTime<Utc>, grouped: bool) -> FetchRequest {
    let q = |metric: &str, query: &str| MetricQuery {
        name: metric.into(),
        query: query.into(),
        window: Some(Duration::from_secs(10)),
        counts: None,
    };
    member_request(
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
    )
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
        for ((metric, own), (_, all)) in own.metrics.iter().zip(&all.metrics) {
            let own = own
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} {metric}: {e}"));
            let all = all
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} {metric} grouped: {e}"));
            for (track, a, b) in [
                ("baseline", &own.baseline, &all.baseline),
                ("canary", &own.canary, &all.canary),
            ] {
                assert!(a.points.len() >= 8, "{name} {metric} {track}: {a:?}");
                assert_eq!(a.points.len(), b.points.len(), "{name} {metric} {track}");
                for (x, y) in a.points.iter().zip(&b.points) {
                    assert_eq!(x.at, y.at, "{name} {metric} {track}");
                    let same = (x.value.is_nan() && y.value.is_nan())
                        || (x.value - y.value).abs() <= 1e-9 * x.value.abs().max(1e-12);
                    assert!(same, "{name} {metric} {track}: {} vs {}", x.value, y.value);
                }
            }
        }
    }
    // Two queries per metric per rollout one way; one per metric for the fleet the other.
    assert_eq!(queries, (NAMES.len() * 2 * 2, 2), "{queries:?}");
}
