//! SLO windows from recording rules, end to end: a real Prometheus evaluates a rules file named
//! the way Sloth and Pyrra name theirs, and the console's metrics source reads those series
//! (one template for every window, or a table for some, the rest computed from `error_ratio`).
//! Also the samples touched per poll (`query_stats`): Prometheus says, VictoriaMetrics does not.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use std::time::Duration;

use chrono::Utc;
use rollout_console::config::PrometheusConfig;
use rollout_console::metrics::client::PrometheusClient;
use rollout_console::metrics::source::{PrometheusSource, Selectors};
use rollout_console::metrics::{FetchRequest, MetricQuery, MetricsSource, Priority, SloQuery};
use rollout_console::sim::Scenario;
use simulate::in_process;
use tsdb::{Engine, Tsdb};

const SLO_RATIO: &str = "sum(rate(http_requests_total{$service, code=~\"5..\"}[$window])) / sum(rate(http_requests_total{$service}[$window]))";
const SLOTH: &str =
    "slo:sli_error:ratio_rate$window{sloth_service=\"checkout\", sloth_slo=\"availability\"}";
/// The windows of an SLO over 1 hour, and the value each recorded series holds: constants, so
/// that what the source reads can only have come from the rule of that window.
const SLOTH_WINDOWS: [(&str, &str); 7] = [
    ("1h", "0.13"),
    ("5m", "0.11"),
    ("30m", "0.12"),
    ("2h", "0.14"),
    ("6h", "0.15"),
    ("1d", "0.16"),
    ("3d", "0.17"),
];
const PYRRA_5M: &str = "0.25";

/// Sloth-style rules for every window, and one Pyrra-style burn rate.
fn rules() -> String {
    let mut yaml = String::from(
        "groups:\n  - name: sloth-slo-sli-recordings-checkout-availability\n    rules:\n",
    );
    for (window, value) in SLOTH_WINDOWS {
        yaml.push_str(&format!(
            "      - record: slo:sli_error:ratio_rate{window}\n        expr: vector({value})\n        labels:\n          sloth_service: checkout\n          sloth_slo: availability\n          sloth_window: {window}\n"
        ));
    }
    yaml.push_str(&format!(
        "  - name: checkout-availability\n    rules:\n      - record: http_requests:burnrate5m\n        expr: vector({PYRRA_5M})\n        labels:\n          slo: checkout-availability\n"
    ));
    yaml
}

fn source(url: &str, query_stats: bool) -> PrometheusSource {
    let cfg = PrometheusConfig {
        timeout: Duration::from_secs(10),
        max_queries_per_second: toml::Spanned::new(0..0, 1000.0),
        query_stats,
        ..PrometheusConfig::for_url(url)
    };
    let selectors = Selectors {
        baseline: "job=\"checkout\", track=\"baseline\"".into(),
        canary: "job=\"checkout\", track=\"canary\"".into(),
        service: "job=\"checkout\"".into(),
        rollout: "checkout".into(),
    };
    PrometheusSource::new(PrometheusClient::new(&cfg).expect("client"), selectors)
}

fn slo(name: &str, recorded: Vec<(String, String)>) -> SloQuery {
    SloQuery {
        name: name.into(),
        error_ratio: SLO_RATIO.into(),
        window: Duration::from_secs(3600),
        recorded,
    }
}

fn request(slos: Vec<SloQuery>) -> FetchRequest {
    FetchRequest {
        now: Utc::now(),
        lookback: Duration::from_secs(20),
        step: Duration::from_secs(1),
        metrics: vec![MetricQuery {
            name: "rps".into(),
            query: "sum(rate(http_requests_total{$selector}[$window]))".into(),
            window: Some(Duration::from_secs(10)),
            counts: None,
        }],
        slos,
        tracks: None,
        priority: Priority::Open,
        rollout: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_series_are_what_is_read_on_a_real_prometheus() {
    if !Engine::Prometheus.is_installed() {
        eprintln!("prometheus is not installed: skipped");
        return;
    }
    let sim = in_process(Scenario::Healthy, 21).await;
    let target = sim.addr.clone();
    let tsdb = tokio::task::spawn_blocking(move || {
        let tsdb = Tsdb::start_with_rules(
            Engine::Prometheus,
            &[target],
            Duration::from_secs(1),
            &rules(),
        );
        tsdb.wait_for_series(
            "http_requests_total{job=\"checkout\",track=\"canary\"}",
            Duration::from_secs(40),
        );
        tsdb.wait_for_series("slo:sli_error:ratio_rate3d", Duration::from_secs(40));
        tsdb.wait_for_series("http_requests:burnrate5m", Duration::from_secs(40));
        tsdb
    })
    .await
    .expect("prometheus starts");
    tokio::time::sleep(Duration::from_secs(3)).await;

    let source = source(&tsdb.url, true);
    let sloth: Vec<(String, String)> = SLOTH_WINDOWS
        .iter()
        .map(|(w, _)| (w.to_string(), SLOTH.to_string()))
        .collect();
    let pyrra = vec![(
        "5m".to_string(),
        "http_requests:burnrate5m{slo=\"$rollout-availability\"}".to_string(),
    )];
    let result = source
        .fetch(&request(vec![
            slo("sloth", sloth),
            slo("pyrra", pyrra),
            slo("computed", Vec::new()),
        ]))
        .await;

    let value = |v: &str| v.parse::<f64>().expect("number");
    let sloth = result.slos[0].1.as_ref().expect("sloth");
    assert_eq!(sloth.error_ratio, Some(value(SLOTH_WINDOWS[0].1)), "1h");
    for (label, ratio) in &sloth.window_ratios {
        let want = SLOTH_WINDOWS
            .iter()
            .find(|(w, _)| w == label)
            .map(|(_, v)| value(v));
        assert_eq!(*ratio, want, "sloth {label}");
    }
    assert_eq!(sloth.window_ratios.len(), 7);

    let pyrra = result.slos[1].1.as_ref().expect("pyrra");
    let computed = result.slos[2].1.as_ref().expect("computed");
    for (label, ratio) in &pyrra.window_ratios {
        if label == "5m" {
            assert_eq!(
                *ratio,
                Some(value(PYRRA_5M)),
                "pyrra 5m is the recorded series"
            );
        } else {
            // Computed from error_ratio, like the SLO without recorded series: a healthy
            // service's small ratio (or none yet), never a recorded constant.
            assert!(ratio.is_none_or(|r| r < 0.1), "pyrra {label}: {ratio:?}");
            let twin = computed.window_ratios.iter().find(|(l, _)| l == label);
            assert_eq!(
                twin.map(|(_, r)| r.is_some()),
                Some(ratio.is_some()),
                "{label}"
            );
        }
    }
    assert!(pyrra.error_ratio.is_none_or(|r| r < 0.1), "{pyrra:?}");

    // Prometheus answers stats=all: the poll's samples touched are counted.
    let touched = result
        .samples_touched
        .expect("prometheus reports samples touched");
    assert!(touched > 0, "{touched}");
    assert_eq!(result.queries, 2 + 3 * 8);
    let plain = source_without_stats(&tsdb.url)
        .fetch(&request(vec![]))
        .await;
    assert_eq!(plain.samples_touched, None);
}

fn source_without_stats(url: &str) -> PrometheusSource {
    source(url, false)
}

/// VictoriaMetrics ignores `stats=all`: the poll still works, and says nothing of samples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_answers_without_stats() {
    if !Engine::VictoriaMetrics.is_installed() {
        eprintln!("victoria-metrics is not installed: skipped");
        return;
    }
    let sim = in_process(Scenario::Healthy, 21).await;
    let target = sim.addr.clone();
    let tsdb = tokio::task::spawn_blocking(move || {
        let tsdb = Tsdb::start(Engine::VictoriaMetrics, &[target], Duration::from_secs(1));
        tsdb.wait_for_series(
            "http_requests_total{job=\"checkout\",track=\"canary\"}",
            Duration::from_secs(40),
        );
        tsdb
    })
    .await
    .expect("victoria-metrics starts");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let result = source(&tsdb.url, true)
        .fetch(&request(vec![slo("computed", Vec::new())]))
        .await;
    assert!(result.metrics[0].1.is_ok(), "{:?}", result.metrics[0]);
    assert!(result.slos[0].1.is_ok(), "{:?}", result.slos[0]);
    assert_eq!(result.samples_touched, None);
}
