//! Metric presets end to end: one real Prometheus scraping `simulate --instrumentation <name>`
//! for every preset, a config of just `[[rollouts]] name / service / preset` (and, for the
//! proxies, the preset's own track labels), and the real binary's `check --json`: every preset
//! metric has numbers for both tracks, latencies in seconds whatever the instrumentation's unit.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use rollout_console::config::presets::{self, Tracks};
use simulate::{Options, Simulate};
use std::process::Command;
use std::time::Duration;
use tsdb::{Engine, Tsdb};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

fn config(
    dir: &std::path::Path,
    prometheus: &str,
    preset: &presets::Preset,
    sim: &Simulate,
) -> std::path::PathBuf {
    let instance = format!("instance=\"{}\"", sim.addr);
    let tracks = match preset.tracks {
        Tracks::PodHash => String::new(),
        Tracks::Labels { baseline, canary } => {
            let fill = |t: &str| {
                t.replace("<namespace>", "shop")
                    .replace("<service>", "checkout")
                    .replace("<port>", "80")
            };
            format!(
                "baseline = '{instance}, {}'\ncanary = '{instance}, {}'\n",
                fill(baseline),
                fill(canary)
            )
        }
    };
    let text = format!(
        r#"poll_interval = "1s"
[prometheus]
url = "{prometheus}"
[backend]
kind = "http"
url = "http://{addr}"
[[rollouts]]
name = "checkout"
service = 'job="checkout", {instance}'
preset = "{name}"
{tracks}"#,
        addr = sim.addr,
        name = preset.name,
    );
    let path = dir.join(format!("{}.toml", preset.name));
    std::fs::write(&path, text).expect("config");
    path
}

fn check_json(config: &std::path::Path) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["check", "--json", "--config"])
        .arg(config)
        .env("XDG_DATA_HOME", config.with_extension("data"))
        .output()
        .expect("check runs");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{}: one JSON object: {e}\n{text}\n{}",
            config.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn every_preset_reads_its_instrumentation_from_a_real_prometheus() {
    let options = Options {
        speed: 1.0,
        rps: 400.0,
    };
    let sims: Vec<(&presets::Preset, Simulate)> = presets::ALL
        .iter()
        .map(|p| (*p, Simulate::start_instrumented("healthy", p.name, options)))
        .collect();
    let targets: Vec<&str> = sims.iter().map(|(_, s)| s.addr.as_str()).collect();
    let prom = Tsdb::start(Engine::Prometheus, &targets, Duration::from_secs(1));
    for (p, sim) in &sims {
        let family = p.recognise_by[0];
        prom.wait_for_series(
            &format!("{family}{{instance=\"{}\"}}", sim.addr),
            Duration::from_secs(40),
        );
    }
    // A few scrapes for rate() (two points) and every window of the SLO.
    std::thread::sleep(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut p95 = Vec::new();
    for (p, sim) in &sims {
        let v = check_json(&config(dir.path(), &prom.url, p, sim));
        let metrics = v["metrics"].as_array().expect("metrics");
        let names: Vec<&str> = metrics.iter().filter_map(|m| m["name"].as_str()).collect();
        assert_eq!(
            names,
            ["request rate", "error rate", "p95 latency", "p99 latency"],
            "{}: {v}",
            p.name
        );
        for m in metrics {
            for track in ["baseline", "canary"] {
                assert!(
                    m[track].as_f64().is_some_and(f64::is_finite),
                    "{}: {} has no {track} value: {m}",
                    p.name,
                    m["name"]
                );
            }
        }
        let rate = metrics[0]["baseline"].as_f64().unwrap_or_default();
        // Below the 380 rps served: rate() over 1m of a series only seconds old.
        assert!(rate > 1.0, "{}: baseline rps {rate}", p.name);
        let latency = metrics[2]["baseline"].as_f64().unwrap_or_default();
        assert!(
            (0.02..2.0).contains(&latency),
            "{}: p95 {latency} is not in seconds",
            p.name
        );
        p95.push((p.name, latency));
        let slo = &v["slos"][0];
        assert_eq!(slo["name"], "availability", "{}: {v}", p.name);
        assert!(slo["error_ratio"].as_f64().is_some(), "{}: {slo}", p.name);
    }
    // The same traffic (same seed and scenario) reads the same whatever its names and units.
    let reference = p95[0].1;
    for (name, latency) in &p95 {
        assert!(
            (latency / reference - 1.0).abs() < 0.5,
            "{name}: p95 {latency}s against prometheus's {reference}s"
        );
    }
}
