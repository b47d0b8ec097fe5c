//! `rollout-console check` end to end: the real binary, a real Prometheus scraping four
//! `simulate` processes (one per scenario, told apart by their `instance` label), exit codes and
//! the named failing metric.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use simulate::Simulate;
use std::process::Command;
use std::time::Duration;
use tsdb::{Engine, Tsdb};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

fn config(dir: &std::path::Path, prometheus: &str, sim: &Simulate) -> std::path::PathBuf {
    config_with(dir, prometheus, sim, true)
}

/// `tracks = false` leaves baseline and canary out: the console builds them from the pod-template
/// hashes the backend reports (the simulator labels its series as Argo's pods are labelled).
fn config_with(
    dir: &std::path::Path,
    prometheus: &str,
    sim: &Simulate,
    tracks: bool,
) -> std::path::PathBuf {
    let instance = format!("instance=\"{}\"", sim.addr);
    let mut text = format!(
        r#"poll_interval = "1s"
[prometheus]
url = "{prometheus}"
[backend]
kind = "http"
url = "http://{addr}"
[[rollouts]]
name = "checkout"
baseline = 'job="checkout", track="baseline", {instance}'
canary   = 'job="checkout", track="canary", {instance}'
service  = 'job="checkout", {instance}'
[[metrics]]
name = "p95 latency"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[$window])))'
unit = "seconds"
window = "20s"
gate = {{ max_increase_pct = 25, for = 2, severity = "hold" }}
[[metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{$selector, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "ratio"
window = "20s"
gate = {{ max = 0.01, max_ratio = 2.0, min_baseline = 0.005, for = 2, severity = "rollback" }}
[[slos]]
name = "availability"
objective = 99.0
window = "1h"
error_ratio = 'sum(rate(http_requests_total{{$service, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$service}}[$window]))'
"#,
        addr = sim.addr
    );
    if !tracks {
        text = text
            .lines()
            .filter(|l| !l.starts_with("baseline =") && !l.starts_with("canary   ="))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let path = dir.join(format!(
        "{}{}.toml",
        sim.addr.replace([':', '.'], "_"),
        if tracks { "" } else { "_pod_hash" }
    ));
    std::fs::write(&path, text).expect("config");
    path
}

fn check(config: &std::path::Path, json: bool) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("check")
        .arg("--config")
        .arg(config)
        .env("XDG_DATA_HOME", config.with_extension("data"));
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("check runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn check_exit_codes_against_a_real_prometheus() {
    let healthy = Simulate::start("healthy");
    let slow = Simulate::start("latency-regression");
    let errors = Simulate::start("error-spike");
    let idle = Simulate::start("healthy");
    // Move the canaries to where their scenario bites: 25%. The error spike is paused there so
    // the simulator's own controller does not roll it back before we look.
    slow.act("promote", 0);
    errors.act("promote", 0);
    errors.act("pause", 1);
    // No canary traffic at all: rolled back before Prometheus ever sees it.
    idle.act("rollback", 0);
    let targets: Vec<&str> = [&healthy, &slow, &errors, &idle]
        .iter()
        .map(|s| s.addr.as_str())
        .collect();
    let prom = Tsdb::start(Engine::Prometheus, &targets, Duration::from_secs(1));
    prom.wait_for_series(
        &format!(
            "http_requests_total{{track=\"canary\",instance=\"{}\"}}",
            slow.addr
        ),
        Duration::from_secs(40),
    );
    // Fill the 20s windows.
    std::thread::sleep(Duration::from_secs(22));
    let dir = tempfile::tempdir().expect("tempdir");

    let (code, out) = check(&config(dir.path(), &prom.url, &healthy), false);
    assert_eq!(code, 0, "healthy must pass:\n{out}");
    assert!(out.contains("VERDICT: PASS"), "{out}");

    let (code, out) = check(&config(dir.path(), &prom.url, &slow), false);
    assert_eq!(code, 1, "latency-regression must fail:\n{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("P95_LATENCY:") && l.contains(" FAIL (canary ")),
        "{out}"
    );

    // The same judgement with the tracks taken from the rollout's pod-template hashes.
    let (code, out) = check(&config_with(dir.path(), &prom.url, &healthy, false), false);
    assert_eq!(code, 0, "healthy must pass with pod-hash tracks:\n{out}");
    let (code, out) = check(&config_with(dir.path(), &prom.url, &slow, false), false);
    assert_eq!(
        code, 1,
        "latency-regression must fail with pod-hash tracks:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("P95_LATENCY:") && l.contains(" FAIL (canary ")),
        "{out}"
    );

    let (code, out) = check(&config(dir.path(), &prom.url, &errors), true);
    assert_eq!(code, 1, "error-spike must fail:\n{out}");
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("one JSON object: {e}\n{out}"));
    assert_eq!(v["verdict"], "fail");
    let error_rate = v["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "error rate"))
        .expect("error rate");
    assert_eq!(error_rate["verdict"], "fail", "{v}");
    assert_eq!(error_rate["severity"], "rollback");

    let (code, out) = check(&config(dir.path(), &prom.url, &idle), false);
    assert_eq!(code, 3, "no canary traffic must be inconclusive:\n{out}");
    assert!(out.contains("NO DATA"), "{out}");
}
