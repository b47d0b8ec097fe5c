//! A member of `simulate --fleet`'s poll as the console sends it, per rollout or grouped, for the
//! tests that compare the two ways against a real Prometheus. Include with
//! `#[path = "common/fleet_request.rs"] mod fleet_request;`, beside the `simulate` and `tsdb`
//! modules of `tests/common`.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use std::time::Duration;

use rollout_console::config::PrometheusConfig;
use rollout_console::metrics::client::PrometheusClient;
use rollout_console::metrics::source::{PrometheusSource, Selectors};
use rollout_console::metrics::{FetchRequest, ForRollout, Group, MetricQuery, Priority, Tracks};

/// The simulator's pod-template hashes (every member has the same; the `rollout` label tells
/// them apart).
pub const STABLE: &str = "5f7c9d6b8";
pub const CANARY: &str = "7b9f4c6d5";
pub const HASH: &str = "rollouts_pod_template_hash";
pub const NAMES: [&str; 4] = ["checkout", "payments", "search", "cart"];

/// `simulate --fleet` of [`NAMES`] scraped every second by a real Prometheus, once the last
/// member's canary has a series.
pub fn fleet_scraped_by_prometheus() -> (crate::simulate::Simulate, crate::tsdb::Tsdb) {
    fleet_scraped_with_rules(None)
}

/// [`fleet_scraped_by_prometheus`], Prometheus evaluating `rules` (a rules file's YAML).
pub fn fleet_scraped_with_rules(
    rules: Option<&str>,
) -> (crate::simulate::Simulate, crate::tsdb::Tsdb) {
    use crate::tsdb::{Engine, Tsdb};
    let sim =
        crate::simulate::Simulate::start_fleet(NAMES.len(), crate::simulate::Options::default());
    let targets = [sim.addr.as_str()];
    let prom = match rules {
        Some(rules) => {
            Tsdb::start_with_rules(Engine::Prometheus, &targets, Duration::from_secs(1), rules)
        }
        None => Tsdb::start(Engine::Prometheus, &targets, Duration::from_secs(1)),
    };
    prom.wait_for_series(
        "http_requests_total{rollout=\"cart\",track=\"canary\"}",
        Duration::from_secs(40),
    );
    (sim, prom)
}

/// A Prometheus source with room for every query the tests send, reading the samples each
/// query touched.
pub fn source(url: &str) -> PrometheusSource {
    let cfg = PrometheusConfig {
        timeout: Duration::from_secs(10),
        max_queries_per_second: toml::Spanned::new(0..0, 1_000.0),
        query_stats: true,
        ..PrometheusConfig::for_url(url)
    };
    PrometheusSource::new(
        PrometheusClient::new(&cfg).expect("client"),
        Selectors::default(),
    )
}

/// `name`'s poll at `now` for `metrics`: its tracks by pod hash under `rollout="<name>"`, and,
/// when `grouped`, the fleet of `NAMES[..counted_since.len()]` it is asked with.
pub fn member_request(
    name: &str,
    now: DateTime<Utc>,
    metrics: Vec<MetricQuery>,
    grouped: bool,
    counted_since: Vec<Option<DateTime<Utc>>>,
) -> FetchRequest {
    let service = format!("rollout=\"{name}\"");
    FetchRequest {
        now,
        lookback: Duration::from_secs(30),
        step: Duration::from_secs(1),
        metrics,
        slos: vec![],
        tracks: Some(Tracks {
            baseline: format!("{service}, {HASH}=\"{STABLE}\""),
            canary: format!("{service}, {HASH}=\"{CANARY}\""),
        }),
        priority: Priority::Open,
        rollout: Some(ForRollout {
            name: name.into(),
            selectors: Some(Selectors {
                service: service.clone(),
                rollout: name.into(),
                ..Selectors::default()
            }),
            group: grouped.then(|| {
                Box::new(Group {
                    label: "rollout".into(),
                    hash_label: HASH.into(),
                    service: "rollout=\"$rollout\"".into(),
                    members: NAMES[..counted_since.len()]
                        .iter()
                        .map(|n| n.to_string())
                        .collect(),
                    member: name.into(),
                    stable_hash: STABLE.into(),
                    canary_hash: CANARY.into(),
                    lookback: Duration::from_secs(30),
                    slo_fresh_for: Duration::from_secs(60),
                    counted_since,
                    recorded: false,
                })
            }),
        }),
    }
}
