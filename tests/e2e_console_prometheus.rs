//! The whole chain over real HTTP: `rollout-console simulate` serves /metrics and the deploy API,
//! a real Prometheus scrapes it, and the console (under tmux, from a config file) reads Prometheus
//! and drives the simulator through the `http` backend.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tmux.rs"]
mod tmux;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use simulate::Simulate;
use std::time::Duration;
use tmux::Tmux;
use tsdb::{Engine, Tsdb};

fn write_config(t: &Tmux, prometheus: &str, sim: &Simulate) -> String {
    write_config_with(t, prometheus, sim, r#"job="checkout", track="canary""#)
}

/// The config with `canary` as the canary's selector.
fn write_config_with(t: &Tmux, prometheus: &str, sim: &Simulate, canary: &str) -> String {
    let path = t.dir.path().join("rc.toml");
    let text = format!(
        r#"poll_interval = "1s"

[prometheus]
url = "{prometheus}"
timeout = "3s"

[backend]
kind = "http"
url = "http://{sim}"

[[rollouts]]
name = "checkout"
baseline = 'job="checkout", track="baseline"'
canary   = '{canary}'
service  = 'job="checkout"'

[[metrics]]
name = "p95 latency"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[$window])))'
unit = "seconds"
window = "10s"
gate = {{ max_increase_pct = 25, for = 2, severity = "hold" }}

[[metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{$selector, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "ratio"
window = "10s"
gate = {{ max = 0.01, max_ratio = 2.0, min_baseline = 0.005, for = 2 }}

[[slos]]
name = "availability"
objective = 99.95
window = "1h"
error_ratio = 'sum(rate(http_requests_total{{$service, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$service}}[$window]))'
"#,
        sim = sim.addr,
    );
    std::fs::write(&path, text).expect("config");
    path.display().to_string()
}

#[test]
fn console_reads_prometheus_and_promotes_through_the_deploy_api() {
    let sim = Simulate::start("healthy");
    let mut prom = Tsdb::start(
        Engine::Prometheus,
        &[sim.addr.as_str()],
        Duration::from_secs(1),
    );
    prom.wait_for_series(
        "http_requests_total{job=\"checkout\",track=\"canary\"}",
        Duration::from_secs(40),
    );
    let t = Tmux::start("prom-console");
    let config = write_config(&t, &prom.url, &sim);

    t.run_console(&format!("--config {config}"), "");
    // One condition for the whole screen: a capture can land while a frame is still being
    // written, its top new and its lower rows (here the intro event naming the source) not yet.
    t.wait_for(
        "live numbers from Prometheus, and the source named",
        Duration::from_secs(30),
        |s| {
            s.contains("PROGRESSING")
                && s.contains("p95 latency")
                && s.contains("ms ")
                && s.contains("✓ PASS")
                && s.contains("Prometheus at")
        },
    );
    // Prometheus dies under the running console: panels go STALE with the reason, the console
    // keeps running, and everything recovers by itself when Prometheus is back.
    prom.stop();
    let (screen, _) = t.wait_for("STALE panels", Duration::from_secs(20), |s| {
        s.contains("STALE")
    });
    assert!(screen.contains("NO DATA"), "{screen}");
    prom.restart();
    t.wait_for("recovery", Duration::from_secs(40), |s| {
        !s.contains("STALE") && s.contains("✓ PASS")
    });

    t.send(&["p"]);
    t.wait_text("Promote checkout?");
    t.send(&["y"]);
    t.wait_text("step 2/4");
    // P: promote fully, from the step on screen, in one request with "full": true.
    t.send(&["P"]);
    t.wait_text("Promote checkout FULLY?");
    t.send(&["y"]);
    t.wait_text("COMPLETED");
    t.send(&["q"]);
    t.wait_text("rollout-console: left checkout");
    let actions = sim.get("/_sim/actions");
    let actions = actions.as_array().expect("list");
    assert_eq!(
        actions.len(),
        2,
        "exactly two actions reached the simulator: {actions:?}"
    );
    assert_eq!(actions[0]["action"], "promote");
    assert_eq!(actions[0]["expected_step"], 0);
    assert_eq!(actions[0]["full"], false);
    assert_eq!(
        (
            &actions[1]["action"],
            &actions[1]["expected_step"],
            &actions[1]["full"]
        ),
        (&"promote".into(), &1.into(), &true.into()),
        "{actions:?}"
    );
    assert!(
        actions[0]["actor"]
            .as_str()
            .is_some_and(|a| a.contains('@')),
        "{}",
        actions[0]
    );

    // Watch mode: whatever keys are pressed, not one non-GET request reaches the backend.
    t.send(&["clear", "Enter"]);
    t.run_console(&format!("--config {config} --read-only"), "");
    t.wait_text("READ-ONLY");
    for key in [
        "p", "y", "Space", "y", "r", "y", "Enter", "p", "Enter", "P", "y", "t", "y", "u", "y",
    ] {
        t.send(&[key]);
    }
    t.wait_text("read-only: promote is");
    t.send(&["q"]);
    t.wait_text("rollout-console: left checkout");
    let counts = sim.get("/_sim/requests");
    let non_get: u64 = counts
        .as_object()
        .expect("map")
        .iter()
        .filter(|(k, _)| !k.starts_with("GET "))
        .map(|(_, v)| v.as_u64().unwrap_or(0))
        .sum();
    assert_eq!(non_get, 2, "only the first run's two promotes: {counts}");
}

/// A mistyped canary selector against a real Prometheus: the console's detail view (Enter on
/// the metric) says what `explain` says — the label, the value asked, the values it has — and
/// points at `explain`.
#[test]
fn a_mistyped_canary_selector_is_explained_in_the_detail_view() {
    let sim = Simulate::start("healthy");
    let prom = Tsdb::start(
        Engine::Prometheus,
        &[sim.addr.as_str()],
        Duration::from_secs(1),
    );
    prom.wait_for_series(
        "http_request_duration_seconds_bucket{job=\"checkout\",track=\"canary\"}",
        Duration::from_secs(40),
    );
    let t = Tmux::start("prom-explained");
    let config = write_config_with(&t, &prom.url, &sim, r#"job="chekout", track="canary""#);
    t.run_console(&format!("--config {config} --read-only"), "");
    t.wait_text("p95 latency");
    t.send(&["Enter"]);
    // The screen's words, without the box around them: a finding wraps over several rows.
    let words = |screen: &str| -> String {
        screen
            .split_whitespace()
            .filter(|w| !w.chars().all(|c| "│•─┌┐└┘".contains(c)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (screen, _) = t.wait_for(
        "explain's words in the detail view",
        Duration::from_secs(30),
        |s| {
            words(s).contains(
                r#"label job: no series of http_request_duration_seconds_bucket{track="canary"} has job="chekout"; job has: checkout"#,
            )
        },
    );
    assert!(
        // "either track" while the baseline's first rate is still short of samples.
        screen.contains("Why no data: no series for "),
        "{screen}"
    );
    assert!(
        screen.contains("run: rollout-console explain --rollout checkout"),
        "{screen}"
    );
    t.send(&["Escape"]);
    t.send(&["q"]);
    t.wait_text("rollout-console: left checkout");
}
