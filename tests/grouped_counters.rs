//! The sequential judge's raw counters read for the whole fleet at once (`[fleet] group_by`),
//! against a real Prometheus scraping `simulate --fleet 4`: each rollout's counts (and so its
//! sequential verdicts) are the same as with its own per-track reads, poll after poll, with
//! members starting at different points, polling at different steps and one joining the fleet
//! late; and the raw counter queries go from 6 per rollout per poll to 3 per step for the fleet.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use chrono::{DateTime, Utc};
use std::time::Duration;

#[path = "common/fleet_request.rs"]
mod fleet_request;

use fleet_request::{NAMES, fleet_scraped_by_prometheus, member_request, source};
use rollout_console::metrics::{Counters, CountsQuery, FetchRequest, MetricQuery, MetricsSource};

/// A metric query with no aggregation: never grouped, two queries per metric per poll both
/// ways (`METRIC_QUERIES` a poll), so that the rest of a poll's queries are its raw counters.
const PLAIN: &str = "rate(http_requests_total{$selector}[1m])";
const METRIC_QUERIES: usize = 2 * 2;

/// Member `i`'s poll at `now`; `members` of the fleet known so far (each counted from `since`).
fn request(
    i: usize,
    now: DateTime<Utc>,
    (members, since): (usize, &[DateTime<Utc>]),
    grouped: bool,
) -> FetchRequest {
    let name = NAMES[i];
    let counted = |metric: &str, counters: Counters| MetricQuery {
        name: metric.into(),
        query: PLAIN.into(),
        window: Some(Duration::from_secs(10)),
        counts: Some(CountsQuery {
            counters,
            since: since[i],
        }),
    };
    member_request(
        name,
        now,
        vec![
            counted(
                "p95 latency",
                Counters::Histogram("http_request_duration_seconds_bucket{$selector}".into()),
            ),
            counted(
                "error rate",
                Counters::Ratio {
                    errors: r#"http_requests_total{$selector, code=~"5.."}"#.into(),
                    total: "http_requests_total{$selector}".into(),
                },
            ),
        ],
        grouped,
        since[..members].iter().copied().map(Some).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_read_per_counter_per_step_gives_each_rollout_its_own_counts() {
    let (_sim, prom) = fleet_scraped_by_prometheus();
    tokio::time::sleep(Duration::from_secs(25)).await;
    // Instants in the past: both ways read the same, settled samples.
    let base = Utc::now() - chrono::Duration::seconds(3);
    let at = |s: i64| base + chrono::Duration::seconds(s);
    // Each member counted from its own start (the canary's first step), a few seconds apart.
    let since: Vec<DateTime<Utc>> = (0..NAMES.len()).map(|i| at(-22 + 3 * i as i64)).collect();
    let per_rollout = source(&prom.url);
    let grouped = source(&prom.url);
    let (mut raw, mut polls, mut steps) = ((0, 0), 0, 0);
    let mut counted = 0.0;
    // Six steps 2 s apart; not every member polls at every step; the last member joins the
    // fleet at the fourth.
    for k in 0..6i64 {
        let now = at(-12 + 2 * k) + chrono::Duration::milliseconds(300);
        let members = if k < 3 { 3 } else { 4 };
        let mut polled = false;
        for i in (0..members).filter(|i| (k + *i as i64) % 3 != 2 || k == 5) {
            let own = per_rollout
                .fetch(&request(i, now, (members, &since), false))
                .await;
            let all = grouped
                .fetch(&request(i, now, (members, &since), true))
                .await;
            polls += 1;
            polled = true;
            raw.0 += own.queries - METRIC_QUERIES;
            raw.1 += all.queries - METRIC_QUERIES;
            assert_eq!(own.counts.len(), 2);
            for ((metric, own), (_, all)) in own.counts.iter().zip(&all.counts) {
                let name = NAMES[i];
                let own = own
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{name} {metric} step {k}: {e}"));
                let all = all
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{name} {metric} step {k} grouped: {e}"));
                assert!(own.len() >= 5, "{name} {metric}: {own:?}");
                assert_eq!(
                    own, all,
                    "{name} {metric} step {k}: the same counts both ways"
                );
                let (b, c) = own.requests();
                counted += b + c;
            }
        }
        steps += usize::from(polled);
    }
    assert!(counted > 0.0, "requests were counted");
    // 3 raw counters (the histogram's buckets, errors, total), 2 tracks each, every poll; the
    // fleet: 3 per step, and 3 more whole reads for the member that joined late.
    assert_eq!(raw, (polls * 6, steps * 3 + 3), "{raw:?} in {polls} polls");
}
