//! `rollout-console explain` end to end: the real binary against a real Prometheus scraping
//! `simulate` (one Prometheus for every case): a good config answers for both tracks (exit 0);
//! a misspelled metric name, a wrong label value and a PromQL syntax error each say what is
//! wrong (exit 1); an unreachable Prometheus says so in one line.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use simulate::Simulate;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tsdb::{Engine, Tsdb};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");

const REQUEST_RATE: &str = "sum(rate(http_requests_total{$selector}[$window]))";

/// A config with one rate metric (`query`), a counted error ratio and an SLO.
fn config(dir: &Path, name: &str, prometheus: &str, sim: &str, job: &str, query: &str) -> PathBuf {
    let text = format!(
        r#"[prometheus]
url = "{prometheus}"
[backend]
kind = "http"
url = "http://{sim}"
[[rollouts]]
name = "checkout"
baseline = 'job="{job}", track="baseline"'
canary   = 'job="{job}", track="canary"'
service  = 'job="{job}"'
[[metrics]]
name = "request rate"
query = '{query}'
unit = "rps"
window = "10s"
[[metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "ratio"
window = "10s"
judge = "sequential"
errors = 'http_requests_total{{$selector, code=~"5.."}}'
total = 'http_requests_total{{$selector}}'
[[slos]]
name = "availability"
objective = 99.0
window = "1h"
error_ratio = 'sum(rate(http_requests_total{{$service, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$service}}[$window]))'
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

fn explain(config: &Path, json: bool) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("explain")
        .arg("--config")
        .arg(config)
        .env("XDG_DATA_HOME", config.with_extension("data"));
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("explain runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn explain_against_a_real_prometheus() {
    let sim = Simulate::start("healthy");
    let prom = Tsdb::start(
        Engine::Prometheus,
        &[sim.addr.as_str()],
        Duration::from_secs(1),
    );
    prom.wait_for_series(
        r#"http_requests_total{track="canary"}"#,
        Duration::from_secs(40),
    );
    // A few scrapes, so a 10s rate has two samples.
    std::thread::sleep(Duration::from_secs(4));
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, addr) = (prom.url.as_str(), sim.addr.as_str());

    // A good config: every query answers, with one series per track.
    let good = config(dir.path(), "good", url, addr, "checkout", REQUEST_RATE);
    let (code, text) = explain(&good, false);
    assert_eq!(code, 0, "{text}");
    assert!(
        !text.contains("NO DATA") && !text.contains("ERROR"),
        "{text}"
    );
    for needle in [
        "[[metrics]] \"request rate\"",
        "[[slos]] \"availability\"",
        "sum(rate(http_requests_total{job=\"checkout\", track=\"canary\"}[10s]))",
        "errors canary",
        "over 30m",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let one = text.lines().filter(|l| l.contains("(1 series)")).count();
    // 2 tracks × 2 metrics, and the SLO's 8 windows.
    assert!(one >= 12, "{one} lines with one series: {text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line:?}");
    }
    let (code, json) = explain(&good, true);
    assert_eq!(code, 0, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(v["rollout"], "checkout");
    assert_eq!(v["sections"][0]["queries"][1]["label"], "canary");
    assert_eq!(v["sections"][0]["queries"][1]["answer"]["answer"], "data");

    // A misspelled metric name: named as missing, with the real one suggested.
    let typo = config(
        dir.path(),
        "typo",
        url,
        addr,
        "checkout",
        "sum(rate(http_request_total{$selector}[$window]))",
    );
    let (code, text) = explain(&typo, false);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("metric http_request_total does not exist in this Prometheus"),
        "{text}"
    );
    assert!(text.contains("did you mean http_requests_total"), "{text}");

    // A wrong label value: the label, the value asked and the values that exist.
    let label = config(dir.path(), "label", url, addr, "chekout", REQUEST_RATE);
    let (code, text) = explain(&label, false);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("label job: no series of"), "{text}");
    assert!(text.contains("has job=\"chekout\""), "{text}");
    assert!(text.contains("job has: checkout"), "{text}");

    // A syntax error: the engine's own words, verbatim.
    let broken = "sum(rate(http_requests_total{$selector}[$window])";
    let syntax = config(dir.path(), "syntax", url, addr, "checkout", broken);
    let (code, text) = explain(&syntax, false);
    assert_eq!(code, 1, "{text}");
    let sent = broken
        .replace("$selector", "job=\"checkout\", track=\"baseline\"")
        .replace("$window", "10s");
    let engine = prom
        .get_json(&format!(
            "/api/v1/query?query={}",
            tsdb::percent_encode(&sent)
        ))
        .expect("the engine answers");
    let said = engine["error"].as_str().expect("an error").to_string();
    assert!(!said.is_empty());
    // Wrapped at 80 columns: compare the words.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words(&text).contains(&words(&format!("error: {said}"))),
        "{said}: {text}"
    );
}

#[test]
fn an_unreachable_prometheus_is_one_line_and_exit_1() {
    let closed = tsdb::free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulate::start("healthy");
    let path = config(
        dir.path(),
        "down",
        &format!("http://127.0.0.1:{closed}"),
        &sim.addr,
        "checkout",
        REQUEST_RATE,
    );
    let (code, text) = explain(&path, false);
    assert_eq!(code, 1, "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("cannot reach Prometheus"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains(&format!("http://127.0.0.1:{closed}")),
        "{text}"
    );
    assert!(!text.contains("[[metrics]]"), "nothing is run: {text}");
}
