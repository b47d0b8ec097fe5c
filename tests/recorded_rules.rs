//! The fleet's recording rules end to end (`rollout-console rules`, `[fleet] recorded = true`):
//! the file the binary writes loads in a real Prometheus scraping `simulate --fleet 4`; each
//! recorded sample is what the rule's query gives at that instant; and the console's source,
//! reading the records, gives every member the series and SLO windows its own queries give;
//! `explain` reads each rule for its rollout and says why a stale one answers nothing.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

#[path = "common/fleet_request.rs"]
mod fleet_request;

use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use fleet_request::{HASH, NAMES, fleet_scraped_with_rules, member_request, source};
use rollout_console::metrics::rules::{Fleet, Rule, metric_rule, slo_rules};
use rollout_console::metrics::{FetchRequest, MetricQuery, MetricsSource, SloQuery};
use serde_json::Value;

const P95: &str = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))";
const ERRORS: &str = r#"sum(rate(http_requests_total{$selector, code=~"5.."}[$window])) / sum(rate(http_requests_total{$selector}[$window]))"#;
const SLO: &str = r#"sum(rate(http_requests_total{$service, code=~"5.."}[$window])) / sum(rate(http_requests_total{$service}[$window]))"#;
const WINDOW: Duration = Duration::from_secs(10);
const FLEET: Fleet = Fleet {
    label: "rollout",
    hash_label: HASH,
    service: "rollout=\"$rollout\"",
};

/// The fleet's config, as a user writes it (Prometheus is not asked by `rules`).
fn config() -> String {
    format!(
        r#"poll_interval = "1s"

[prometheus]
url = "http://127.0.0.1:9"
slo_refresh = "2s"

[fleet]
service = 'rollout="$rollout"'
group_by = "rollout"
recorded = true

[[metrics]]
name = "p95 latency"
query = '{P95}'
window = "10s"
unit = "seconds"

[[metrics]]
name = "error rate"
query = '{ERRORS}'
window = "10s"
unit = "ratio"

[[slos]]
name = "availability"
objective = 99.5
window = "30d"
error_ratio = '{SLO}'
"#
    )
}

fn request(name: &str, recorded: bool) -> FetchRequest {
    let q = |metric: &str, query: &str| MetricQuery {
        name: metric.into(),
        query: query.into(),
        window: Some(WINDOW),
        counts: None,
    };
    let mut request = member_request(
        name,
        Utc::now(),
        vec![q("p95 latency", P95), q("error rate", ERRORS)],
        true,
        vec![None; NAMES.len()],
    );
    request.slos = vec![SloQuery {
        name: "availability".into(),
        error_ratio: SLO.into(),
        window: Duration::from_secs(30 * 86_400),
        recorded: vec![],
    }];
    if let Some(group) = request.rollout.as_mut().and_then(|r| r.group.as_mut()) {
        group.recorded = recorded;
    }
    request
}

fn label(series: &Value, name: &str) -> String {
    series["metric"][name]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn number(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Of the rule's settled samples, how many equal its query evaluated at their own instant
/// (each series by its rollout and hash), and how many were compared.
fn samples_equal_to_the_query(prom: &tsdb::Tsdb, rule: &Rule, by: &[&str]) -> (usize, usize) {
    let settled = tsdb::now_unix() - 3.0;
    let kept = prom.query_at(
        &format!(
            "{}{{rollout_console_query=\"{}\"}}[6s]",
            rule.record, rule.digest
        ),
        settled,
    );
    let (mut equal, mut compared) = (0, 0);
    for series in kept["data"]["result"].as_array().into_iter().flatten() {
        for sample in series["values"].as_array().into_iter().flatten() {
            let at = sample[0].as_f64().unwrap_or_default();
            let recorded = number(&sample[1]);
            let direct = prom.query_at(&rule.expr, at);
            let same_series = direct["data"]["result"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| by.iter().all(|l| label(d, l) == label(series, l)));
            let Some(direct) = same_series else { continue };
            let value = number(&direct["value"][1]);
            compared += 1;
            if (value - recorded).abs() <= 1e-9 * value.abs().max(1e-12) {
                equal += 1;
            }
        }
    }
    (equal, compared)
}

#[test]
fn the_rules_the_binary_writes_record_each_query_and_the_console_reads_them() {
    if !tsdb::Engine::Prometheus.is_installed() {
        eprintln!("skipped: Prometheus is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, config()).expect("write the config");
    let out = Command::new(env!("CARGO_BIN_EXE_rollout-console"))
        .args(["rules", "--config"])
        .arg(&path)
        .output()
        .expect("run rules");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).expect("utf-8");
    let p95 = metric_rule(FLEET, "p95 latency", P95, WINDOW).expect("p95 recordable");
    let errors = metric_rule(FLEET, "error rate", ERRORS, WINDOW).expect("errors recordable");
    let slo = slo_rules(FLEET, "availability", SLO, Duration::from_secs(30 * 86_400))
        .expect("SLO recordable");
    for rule in [&p95, &errors]
        .into_iter()
        .chain(slo.iter().map(|(_, r)| r))
    {
        let quoted = serde_json::to_string(&rule.expr).expect("json");
        assert!(
            yaml.contains(&quoted),
            "{} not in the file:\n{yaml}",
            rule.record
        );
    }
    // A file Prometheus refuses would stop it from starting.
    let (sim, prom) = fleet_scraped_with_rules(Some(&yaml));
    for record in [
        "rollout_console:p95_latency{rollout=\"cart\"}",
        "rollout_console:error_rate{rollout=\"cart\"}",
        "rollout_console:availability:error_ratio_rate30d{rollout=\"cart\"}",
    ] {
        prom.wait_for_series(record, Duration::from_secs(40));
    }
    // The 10 s windows filled, and a few evaluations recorded since.
    std::thread::sleep(Duration::from_secs(12));

    // Each recorded sample is its query at that instant. A scrape stored just after the rule
    // ran can make one differ, so most, not all; a rule of another query matches none.
    let by_track = ["rollout", HASH];
    for (rule, by) in [
        (&p95, &by_track[..]),
        (&errors, &by_track[..]),
        (&slo[1].1, &by_track[..1]),
    ] {
        let (equal, compared) = samples_equal_to_the_query(&prom, rule, by);
        assert!(
            compared >= 8 * by.len(),
            "{}: {compared} compared",
            rule.record
        );
        assert!(
            equal * 10 >= compared * 8,
            "{}: {equal} of {compared} equal to the query",
            rule.record
        );
    }

    // The console's source: one read per metric and SLO window for the whole fleet.
    let recorded = source(&prom.url);
    let direct = source(&prom.url);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for (i, name) in NAMES.iter().enumerate() {
        let poll = request(name, true);
        let (read, asked) = runtime.block_on(async {
            let asked = direct.fetch(&request(name, false)).await;
            (recorded.fetch(&poll).await, asked)
        });
        let expected_queries = if i == 0 { 2 + 8 } else { 0 };
        assert_eq!(read.queries, expected_queries, "{name}: {:?}", read.metrics);
        assert!(read.empty.is_empty(), "{name}: {:?}", read.empty);
        for ((metric, read), (_, asked)) in read.metrics.iter().zip(&asked.metrics) {
            let read = read
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} {metric}: {e}"));
            let asked = asked
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} {metric}: {e}"));
            for (track, r, a) in [
                ("baseline", &read.baseline, &asked.baseline),
                ("canary", &read.canary, &asked.canary),
            ] {
                assert!(r.points.len() >= 8, "{name} {metric} {track}: {r:?}");
                // A recorded point is the rule's last evaluation, up to a second before the
                // point its query gives: close, not equal (an error rate over 10 s of a few
                // hundred requests moves by a whole error, hence the absolute part).
                let last = |s: &rollout_console::domain::Series| s.points.last().map(|p| p.value);
                let (Some(r), Some(a)) = (last(r), last(a)) else {
                    panic!("{name} {metric} {track}: no last point");
                };
                assert!(
                    (r - a).abs() <= 0.5 * a.abs() + 0.01,
                    "{name} {metric} {track}: recorded {r}, asked {a}"
                );
            }
        }
        let slo = read.slos[0]
            .1
            .as_ref()
            .unwrap_or_else(|e| panic!("{name} SLO: {e}"));
        assert!(slo.error_ratio.is_some(), "{name}: {slo:?}");
        for (window, ratio) in &slo.window_ratios {
            assert!(ratio.is_some(), "{name} SLO over {window}: {slo:?}");
        }
    }

    // `explain` reads each rule for the rollout: all answer; then a query changed since the
    // rules were written: its rule answers nothing, and the finding names the digest label.
    let explain = |config: &str| {
        let path = dir.path().join("explain.toml");
        let config = config.replace("http://127.0.0.1:9", &prom.url).replace(
            "[fleet]",
            &format!(
                "[backend]\nkind = \"http\"\nurl = \"http://{}\"\n\n[fleet]",
                sim.addr
            ),
        );
        std::fs::write(&path, config).expect("write the config");
        let out = Command::new(env!("CARGO_BIN_EXE_rollout-console"))
            .args(["explain", "--rollout", "cart", "--config"])
            .arg(&path)
            .output()
            .expect("run explain");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = explain(&config());
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("[fleet] recorded: the recording rules"),
        "{text}"
    );
    // The PromQL is wrapped: its digest is whole on one line.
    assert!(
        text.contains(&format!("rollout_console_query=\"{}\"", p95.digest)),
        "{text}"
    );
    assert!(text.contains("availability over 30d"), "{text}");
    let (code, text) = explain(&config().replace("0.95, sum", "0.9, sum"));
    assert_eq!(code, Some(1), "{text}");
    let recorded = text.split("[fleet] recorded:").nth(1).unwrap_or_default();
    let p95_part = recorded.split("\n  error rate").next().unwrap_or_default();
    assert!(p95_part.contains("NO DATA"), "{text}");
    assert!(
        p95_part.contains("why: label rollout_console_query"),
        "{text}"
    );
}
