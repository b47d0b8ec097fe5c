//! What a fleet of rollouts costs the team's Prometheus, printed (not asserted): run with
//! `cargo bench --bench fleet_queries` (Prometheus installed; a few minutes).
//!
//! A real Prometheus scrapes `simulate --fleet 50` every 5 s. Each rollout has the example
//! config's 4 metrics (two with raw counters for the sequential judge) and 1 SLO (30d). Every
//! 5 s, all 50 rollouts are polled two ways in the same run:
//! - today's way: every range over the whole 5-minute chart window, every SLO window each poll;
//! - the new way: incremental ranges (the points since the last poll, plus the last one again;
//!   raw counters each point once, a step after it)
//!   and the SLO windows once a minute;
//! - grouped (`[fleet] group_by = "rollout"`): the new way with one query per metric, raw
//!   counter and SLO window for the whole fleet, the tracks by pod-template hash;
//! - recorded (`[fleet] recorded = true`): grouped, the metrics and SLO windows read from the
//!   recording rules `rollout-console rules` writes (loaded in this Prometheus), and the same
//!   without the sequential judge's raw counters, to show what each part reads. Prometheus's
//!   own cost of evaluating the rules is printed apart: it is paid once for every console.
//!
//! Per poll it prints queries, the samples Prometheus touched (`stats=all`), the new samples
//! scraped since the last poll (the floor any way must read), and the wall time of the poll.

#[path = "../tests/common/simulate.rs"]
mod simulate;
#[path = "../tests/common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rollout_console::config::PrometheusConfig;
use rollout_console::metrics::client::PrometheusClient;
use rollout_console::metrics::rules::{self, Fleet, RulesPlan};
use rollout_console::metrics::source::{PrometheusSource, Selectors};
use rollout_console::metrics::{
    Counters, CountsQuery, FetchRequest, ForRollout, Group, MetricQuery, MetricsSource, Priority,
    SloQuery, Tracks,
};

const FLEET: usize = 50;
const POLL: Duration = Duration::from_secs(5);
const POLLS: usize = 12;
const LOOKBACK: Duration = Duration::from_secs(300);
const SLO_REFRESH: Duration = Duration::from_secs(60);
const SLO_RATIO: &str = "sum(rate(http_requests_total{$service, code=~\"5..\"}[$window])) / sum(rate(http_requests_total{$service}[$window]))";
const METRIC_WINDOW: Duration = Duration::from_secs(60);
const FLEET_LABELS: Fleet = Fleet {
    label: "rollout",
    hash_label: HASH,
    service: "rollout=\"$rollout\"",
};

fn client(url: &str) -> Arc<PrometheusClient> {
    let cfg = PrometheusConfig {
        timeout: Duration::from_secs(30),
        // Not the budget's figure: what each way asks for, unthrottled.
        max_queries_per_second: toml::Spanned::new(0..0, 1_000_000.0),
        query_stats: true,
        slo_refresh: SLO_REFRESH,
        ..PrometheusConfig::for_url(url)
    };
    match PrometheusClient::new(&cfg) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("client: {e}"),
    }
}

/// One rollout's source on the console's shared client (its limit of queries in flight holds
/// for the whole fleet, as in the console).
fn source(client: &Arc<PrometheusClient>, rollout: &str) -> PrometheusSource {
    PrometheusSource::shared(
        Arc::clone(client),
        Selectors {
            baseline: format!("rollout=\"{rollout}\", track=\"baseline\""),
            canary: format!("rollout=\"{rollout}\", track=\"canary\""),
            service: format!("rollout=\"{rollout}\""),
            rollout: rollout.to_string(),
        },
    )
}

fn request(now: DateTime<Utc>, since: DateTime<Utc>, with_slos: bool) -> FetchRequest {
    let metric = |name: &str, query: &str, counters: Option<Counters>| MetricQuery {
        name: name.into(),
        query: query.into(),
        window: Some(METRIC_WINDOW),
        counts: counters.map(|counters| CountsQuery { counters, since }),
    };
    let histogram = "http_request_duration_seconds_bucket{$selector}";
    FetchRequest {
        now,
        lookback: LOOKBACK,
        step: POLL,
        metrics: vec![
            metric(
                "p95 latency",
                "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
                Some(Counters::Histogram(histogram.into())),
            ),
            metric(
                "p99 latency",
                "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
                None,
            ),
            metric(
                "error rate",
                "sum(rate(http_requests_total{$selector, code=~\"5..\"}[$window])) / sum(rate(http_requests_total{$selector}[$window]))",
                Some(Counters::Ratio {
                    errors: "http_requests_total{$selector, code=~\"5..\"}".into(),
                    total: "http_requests_total{$selector}".into(),
                }),
            ),
            metric(
                "request rate",
                "sum(rate(http_requests_total{$selector}[$window]))",
                None,
            ),
        ],
        slos: if with_slos {
            vec![SloQuery {
                name: "availability".into(),
                error_ratio: SLO_RATIO.into(),
                window: Duration::from_secs(30 * 86_400),
                recorded: Vec::new(),
            }]
        } else {
            Vec::new()
        },
        tracks: None,
        priority: Priority::Open,
        rollout: None,
    }
}

/// The simulator's pod-template hashes (every member has the same; `rollout` tells them apart).
const STABLE: &str = "5f7c9d6b8";
const CANARY: &str = "7b9f4c6d5";
const HASH: &str = "rollouts_pod_template_hash";

/// How a grouped fleet is read: its queries, or the recording rules (with or without the
/// sequential judge's raw counters).
#[derive(Clone, Copy, PartialEq)]
enum Grouping {
    Queries,
    Recorded,
    RecordedNoCounters,
}

/// The rules `rollout-console rules` writes for this bench's metrics and SLO.
fn rules_plan() -> RulesPlan {
    let req = request(Utc::now(), Utc::now(), true);
    RulesPlan {
        source: "benches/fleet_queries.rs".into(),
        interval: POLL,
        slo_interval: SLO_REFRESH / 2,
        metrics: req
            .metrics
            .iter()
            .map(|m| {
                let rule = rules::metric_rule(FLEET_LABELS, &m.name, &m.query, METRIC_WINDOW);
                (m.name.clone(), rule)
            })
            .collect(),
        slos: req
            .slos
            .iter()
            .map(|s| {
                let rules = rules::slo_rules(FLEET_LABELS, &s.name, &s.error_ratio, s.window);
                (s.name.clone(), rules)
            })
            .collect(),
    }
}

/// The samples Prometheus touches evaluating the rules, per poll interval: each rule's
/// expression asked once now with `stats=all`, over its group's interval.
fn rule_samples_per_poll(prom: &tsdb::Tsdb, plan: &RulesPlan) -> f64 {
    let touched = |expr: &str| {
        let path = format!(
            "/api/v1/query?query={}&stats=all",
            tsdb::percent_encode(expr)
        );
        prom.get_json(&path)
            .ok()
            .and_then(|v| v["data"]["stats"]["samples"]["totalQueryableSamples"].as_f64())
            .unwrap_or(0.0)
    };
    let per_poll = |interval: Duration| POLL.as_secs_f64() / interval.as_secs_f64();
    let metrics: f64 = plan
        .metrics
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|r| touched(&r.expr))
        .sum();
    let slos: f64 = plan
        .slos
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flatten()
        .map(|(_, r)| touched(&r.expr))
        .sum();
    metrics * per_poll(plan.interval) + slos * per_poll(plan.slo_interval)
}

/// `name`'s poll as a grouped fleet's member: its tracks by hash, the fleet's grouping.
fn grouped_request(
    req: &FetchRequest,
    name: &str,
    names: &[String],
    since: DateTime<Utc>,
    grouping: Grouping,
) -> FetchRequest {
    let mut req = req.clone();
    if grouping == Grouping::RecordedNoCounters {
        for m in &mut req.metrics {
            m.counts = None;
        }
    }
    let service = format!("rollout=\"{name}\"");
    FetchRequest {
        tracks: Some(Tracks {
            baseline: format!("{service}, {HASH}=\"{STABLE}\""),
            canary: format!("{service}, {HASH}=\"{CANARY}\""),
        }),
        rollout: Some(ForRollout {
            name: name.into(),
            selectors: Some(Selectors {
                service: service.clone(),
                rollout: name.into(),
                ..Selectors::default()
            }),
            group: Some(Box::new(Group {
                label: "rollout".into(),
                hash_label: HASH.into(),
                service: "rollout=\"$rollout\"".into(),
                members: names.to_vec(),
                member: name.into(),
                stable_hash: STABLE.into(),
                canary_hash: CANARY.into(),
                lookback: LOOKBACK,
                slo_fresh_for: SLO_REFRESH,
                counted_since: vec![Some(since); names.len()],
                recorded: grouping != Grouping::Queries,
            })),
        }),
        ..req
    }
}

#[derive(Default)]
struct Tally {
    queries: Vec<usize>,
    samples: Vec<u64>,
    wall: Vec<Duration>,
}

impl Tally {
    /// Means over every poll but the first, which reads each member's whole range once (its
    /// samples are printed apart).
    fn line(&self, what: &str, new_samples: f64) -> String {
        let mean_u = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
        let later = self.samples.get(1..).unwrap_or_default();
        let mean_s = later.iter().sum::<u64>() as f64 / later.len().max(1) as f64;
        let mut wall = self.wall.clone();
        wall.sort();
        format!(
            "{what:<34} {:>7.0} queries/poll  {:>12.0} samples touched/poll  ({:>6.1}× the new samples; first poll {:>9})  wall p50 {:>6.0} ms  p90 {:>6.0} ms",
            mean_u(self.queries.get(1..).unwrap_or_default()),
            mean_s,
            mean_s / new_samples.max(1.0),
            self.samples.first().copied().unwrap_or_default(),
            wall[wall.len() / 2].as_secs_f64() * 1e3,
            wall[wall.len() * 9 / 10].as_secs_f64() * 1e3,
        )
    }
}

/// Every rollout's poll: each on its own source, or (`grouped`: the names) all on one source
/// as a grouped fleet's members.
async fn poll_all(
    sources: &[PrometheusSource],
    grouped: Option<(&[String], Grouping)>,
    (now, since): (DateTime<Utc>, DateTime<Utc>),
    with_slos: bool,
    tally: &mut Tally,
) {
    let req = request(now, since, with_slos);
    let start = Instant::now();
    let results = match (grouped, sources.first()) {
        (Some((names, grouping)), Some(fleet)) => {
            let requests: Vec<FetchRequest> = names
                .iter()
                .map(|n| grouped_request(&req, n, names, since, grouping))
                .collect();
            futures::future::join_all(requests.iter().map(|r| fleet.fetch(r))).await
        }
        _ => futures::future::join_all(sources.iter().map(|s| s.fetch(&req))).await,
    };
    tally.wall.push(start.elapsed());
    tally
        .queries
        .push(results.iter().map(|r| r.queries).sum::<usize>());
    tally.samples.push(
        results
            .iter()
            .filter_map(|r| r.samples_touched)
            .sum::<u64>(),
    );
    let errors: Vec<&String> = results
        .iter()
        .flat_map(|r| r.metrics.iter().filter_map(|(_, m)| m.as_ref().err()))
        .collect();
    if let Some(e) = errors.first() {
        println!("  ({} metric errors, e.g. {e})", errors.len());
    }
}

fn main() {
    if tsdb::Engine::Prometheus.binary().is_none() {
        println!("Prometheus is not installed: nothing to measure");
        return;
    }
    let sim = simulate::Simulate::start_fleet(FLEET, simulate::Options::default());
    let plan = rules_plan();
    let prom = tsdb::Tsdb::start_with_rules(
        tsdb::Engine::Prometheus,
        std::slice::from_ref(&sim.addr),
        Duration::from_secs(5),
        &rules::rules_yaml(&plan),
    );
    prom.wait_for_series(
        "http_requests_total{rollout=\"checkout\"}",
        Duration::from_secs(60),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("runtime: {e}"),
    };
    let names: Vec<String> =
        match prom.query("count by (rollout) (http_requests_total)")["data"]["result"].as_array() {
            Some(rows) => rows
                .iter()
                .filter_map(|r| r["metric"]["rollout"].as_str().map(str::to_string))
                .collect(),
            None => Vec::new(),
        };
    // The scraped series (not the recorded ones, which carry `rollout` too).
    let series =
        prom.query("count({rollout!=\"\", __name__!~\"rollout_console:.*\"})")["data"]["result"][0]
            ["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    // One scrape every 5 s: every series gains one sample per poll.
    let new_samples = series * POLL.as_secs_f64() / 5.0;
    println!(
        "{} rollouts scraped, {series} series: {new_samples} new samples per {}s poll",
        names.len(),
        POLL.as_secs()
    );
    // A minute of data before measuring, so the 1m rates have their window.
    std::thread::sleep(Duration::from_secs(60));
    let since = Utc::now() - chrono::Duration::seconds(60);
    let (today_client, new_client) = (client(&prom.url), client(&prom.url));
    let incremental: Vec<PrometheusSource> = names.iter().map(|n| source(&new_client, n)).collect();
    // The console's one source for the whole fleet (one for each way of grouping).
    let fleet_source = || {
        [PrometheusSource::shared(
            client(&prom.url),
            Selectors::default(),
        )]
    };
    let (fleet, fleet_recorded, fleet_recorded_alone) =
        (fleet_source(), fleet_source(), fleet_source());
    let (mut old, mut new, mut grouped) = (Tally::default(), Tally::default(), Tally::default());
    let (mut recorded, mut recorded_alone) = (Tally::default(), Tally::default());
    let mut slos_asked: Option<Instant> = None;
    runtime.block_on(async {
        for i in 0..POLLS {
            let tick = Instant::now();
            let now = Utc::now();
            // Today's way: a fresh source keeps nothing, and asks every SLO window.
            let fresh: Vec<PrometheusSource> =
                names.iter().map(|n| source(&today_client, n)).collect();
            poll_all(&fresh, None, (now, since), true, &mut old).await;
            let slos_due = slos_asked.is_none_or(|t| t.elapsed() >= SLO_REFRESH);
            if slos_due {
                slos_asked = Some(Instant::now());
            }
            poll_all(&incremental, None, (now, since), slos_due, &mut new).await;
            let at = (now, since);
            poll_all(
                &fleet,
                Some((&names, Grouping::Queries)),
                at,
                slos_due,
                &mut grouped,
            )
            .await;
            let way = Some((&names[..], Grouping::Recorded));
            poll_all(&fleet_recorded, way, at, slos_due, &mut recorded).await;
            let way = Some((&names[..], Grouping::RecordedNoCounters));
            poll_all(
                &fleet_recorded_alone,
                way,
                at,
                slos_due,
                &mut recorded_alone,
            )
            .await;
            if i % 6 == 5 {
                println!("  poll {}/{POLLS}", i + 1);
            }
            tokio::time::sleep(POLL.saturating_sub(tick.elapsed())).await;
        }
    });
    println!(
        "{FLEET} rollouts × (4 metrics, 2 with raw counters, + 1 SLO), {POLLS} polls at {}s:",
        POLL.as_secs()
    );
    for (tally, what) in [
        (&old, "today: whole ranges, SLOs each poll"),
        (&new, "new: incremental, SLOs once a minute"),
        (&grouped, "grouped: one query for the fleet"),
        (&recorded, "recorded: grouped, from the rules"),
        (&recorded_alone, "  of which metrics and SLO windows"),
    ] {
        println!("{}", tally.line(what, new_samples));
    }
    let evaluation = rule_samples_per_poll(&prom, &plan);
    println!(
        "Prometheus evaluating the rules (once for every console): {evaluation:.0} samples touched per {}s ({:.1}× the new samples)",
        POLL.as_secs(),
        evaluation / new_samples.max(1.0)
    );
    drop(prom);
    drop(sim);
}
