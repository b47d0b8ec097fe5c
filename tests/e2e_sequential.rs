//! The sequential judge end to end: the real binary's `check --json` against a REAL Prometheus
//! and a REAL VictoriaMetrics (one test per engine, run in parallel), each scraping two
//! `simulate` processes every second, with `poll_interval = "1s"` and both metrics judged
//! sequentially from raw counters (`histogram` for the p95, `errors` + `total` for the ratio).
//!
//! Both simulators serve 4000 rps, ten times the default: a 1 s block then carries what a 10 s
//! poll sees at 400 rps (a 5% canary gets ~200 requests a block).
//!
//! 1. `mild-latency` (canary latency +20% from its first step; the simulator's own controller
//!    holds it at 5%; speed 1): `check` until the p95's decision is FAIL, which must come within
//!    two blocks of evidence (see [`first_evidence_point`] for where evidence starts).
//! 2. `healthy` at speed 10 (holds of 60 s, 60 s, 180 s; the simulator's controller walks the
//!    rollout forward by itself): `check` every ~2 s for over a minute, ~60 one-second polls,
//!    i.e. ~10 minutes of real-world polling at 10 s; no metric may ever say FAIL and the exit
//!    code is 0 or 3 only. What the evaluations said (PASS / COLLECTING) is printed.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use simulate::{Options, Simulate};
use tsdb::{Engine, Tsdb, range_series};

const BIN: &str = env!("CARGO_BIN_EXE_rollout-console");
/// Ten times the default traffic: a 1 s poll counts what a 10 s poll would at 400 rps.
const RPS: f64 = 4_000.0;
/// Holds of 60 s, 60 s and 180 s for the healthy canary.
const HEALTHY_SPEED: f64 = 10.0;
/// How long the healthy canary is checked once its series exist: over 60 one-second polls.
const HEALTHY_RUN: Duration = Duration::from_secs(62);
const HEALTHY_EVERY: Duration = Duration::from_secs(2);
const MILD_EVERY: Duration = Duration::from_secs(1);
/// How long the +20% canary may take to be failed once its series exist (it needs ~3 s).
const FAIL_WITHIN: Duration = Duration::from_secs(30);
const SERIES_TIMEOUT: Duration = Duration::from_secs(40);
const P95: &str = "p95 latency";
const ERRORS: &str = "error rate";

#[test]
fn sequential_judge_end_to_end_on_prometheus() {
    run(Engine::Prometheus);
}

#[test]
fn sequential_judge_end_to_end_on_victoria_metrics() {
    run(Engine::VictoriaMetrics);
}

/// The selector of one simulator's track (`track = None`: the service).
fn selector(sim: &Simulate, track: Option<&str>) -> String {
    match track {
        Some(track) => format!(
            "job=\"checkout\", track=\"{track}\", instance=\"{}\"",
            sim.addr
        ),
        None => format!("job=\"checkout\", instance=\"{}\"", sim.addr),
    }
}

fn config(dir: &Path, url: &str, sim: &Simulate, name: &str) -> PathBuf {
    let text = format!(
        r#"poll_interval = "1s"
[prometheus]
url = "{url}"
[backend]
kind = "http"
url = "http://{addr}"
[judge]
alpha = 0.01
[[rollouts]]
name = "checkout"
baseline = '{baseline}'
canary   = '{canary}'
service  = '{service}'
[[metrics]]
name = "{P95}"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[$window])))'
unit = "seconds"
window = "20s"
judge = "sequential"
histogram = 'http_request_duration_seconds_bucket{{$selector}}'
allowed_increase = 1.1
critical = true
[[metrics]]
name = "{ERRORS}"
query = 'sum(rate(http_requests_total{{$selector, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "ratio"
window = "20s"
judge = "sequential"
errors = 'http_requests_total{{$selector, code=~"5.."}}'
total = 'http_requests_total{{$selector}}'
allowed_increase = 1.5
critical = true
"#,
        addr = sim.addr,
        baseline = selector(sim, Some("baseline")),
        canary = selector(sim, Some("canary")),
        service = selector(sim, None),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

/// One `check --json`: the exit code, the report and what was printed (for messages).
fn check(config: &Path) -> (i32, Value, String) {
    let out = Command::new(BIN)
        .arg("check")
        .arg("--json")
        .arg("--config")
        .arg(config)
        .env("XDG_DATA_HOME", config.with_extension("data"))
        .output()
        .expect("check runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = stdout.clone() + &String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("check exit {code}: not one JSON object ({e}):\n{text}"));
    (code, report, text)
}

fn metric<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["metrics"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == name))
        .unwrap_or_else(|| panic!("no metric {name:?} in\n{report:#}"))
}

/// The sequential decision of a metric: `fail`, `pass` or `collecting`; `None` before anything
/// was counted (right after the series appear, the grid's last point, a whole second, may still
/// be before the first scrape: "the counter query returned no series").
fn decision<'a>(report: &'a Value, name: &str) -> Option<&'a str> {
    metric(report, name)["sequential"]["decision"].as_str()
}

fn time(v: &Value, what: &str) -> DateTime<Utc> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("{what}: not a time: {v}"))
}

/// One line per check, for following a run in the test's output.
fn summary(report: &Value, code: i32) -> String {
    let line = |name: &str| {
        let s = &metric(report, name)["sequential"];
        let num = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.3}"));
        format!(
            "{name}: {} evidence {:.1}/{:.1} est {} range {}–{} canary/baseline requests {}/{} \
             counted until {}",
            s["decision"].as_str().unwrap_or("nothing counted yet"),
            s["evidence"].as_f64().unwrap_or(f64::NAN),
            s["threshold"].as_f64().unwrap_or(f64::NAN),
            num(&s["estimate"]),
            num(&s["range"][0]),
            num(&s["range"][1]),
            s["requests"]["canary"],
            s["requests"]["baseline"],
            s["counted_until"].as_str().unwrap_or("-"),
        )
    };
    format!(
        "exit {code} step {} weight {} | {} | {}",
        report["step_index"],
        report["canary_weight"],
        line(P95),
        line(ERRORS)
    )
}

/// Where the judge's evidence starts, from the engine itself: the first point of the counting
/// grid at which the engine holds the p95's raw bucket series of BOTH tracks.
///
/// Counting starts at the rollout's first step (`history[0].started_at` of the deploy API, on the
/// 1 s grid), but the simulator starts that step 8 s before it listens and the engine scrapes it
/// for the first time some seconds later still, so the first grid points have no sample at all
/// (empty blocks). The first point that has one only sets where counting starts (the series
/// carry their history, not that interval's requests). The block after it is the first with
/// counts, and it only feeds the plug-in (no evidence while the baseline has not been seen).
/// Evidence starts with the block after that. This returns the end of the plug-in block, so
/// "within two polls of having evidence" is `decided_at` at most two grid steps after it: three
/// after the start of the plug-in block. Reading the
/// point from the engine with the same raw range query as the console (start on the grid, step
/// 1 s) is exact on both engines, whatever their first-scrape delay; counting back from
/// `counted_until` could not see the empty blocks.
fn first_evidence_point(
    db: &Tsdb,
    sim: &Simulate,
    grid_start: DateTime<Utc>,
) -> (DateTime<Utc>, String) {
    let end = Utc::now().timestamp();
    let mut firsts = Vec::new();
    for track in ["baseline", "canary"] {
        let query = format!(
            "http_request_duration_seconds_bucket{{{}}}",
            selector(sim, Some(track))
        );
        let answer = db.query_range(&query, grid_start.timestamp(), end, 1);
        let first = range_series(&answer)
            .iter()
            .filter_map(|(_, points)| points.first().map(|p| p.0))
            .fold(f64::INFINITY, f64::min);
        assert!(
            first.is_finite(),
            "{}: no {track} bucket series in the engine since {grid_start}: {answer}",
            db.engine.name()
        );
        firsts.push((track, first));
    }
    let at = firsts.iter().map(|f| f.1).fold(f64::NEG_INFINITY, f64::max);
    // The point where counting starts, and the end of the plug-in block after it.
    let at = DateTime::from_timestamp(at.round() as i64 + 1, 0).expect("a time");
    let seen = firsts
        .iter()
        .map(|(track, t)| {
            format!(
                "{track} {}",
                DateTime::from_timestamp(*t as i64, 0).expect("t")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    (at, seen)
}

#[derive(Default)]
struct HealthyTally {
    evaluations: usize,
    /// Per metric: decision → evaluations.
    decisions: BTreeMap<&'static str, BTreeMap<String, usize>>,
    exit_codes: BTreeMap<i32, usize>,
    /// (step, weight) in the order seen.
    steps: Vec<(i64, i64)>,
    last: Option<Value>,
}

fn run(engine: Engine) {
    let began = Instant::now();
    let name = engine.name();
    let mild = Simulate::start_with(
        "mild-latency",
        Options {
            speed: 1.0,
            rps: RPS,
        },
    );
    let healthy = Simulate::start_with(
        "healthy",
        Options {
            speed: HEALTHY_SPEED,
            rps: RPS,
        },
    );
    let db = Tsdb::start(
        engine,
        &[mild.addr.as_str(), healthy.addr.as_str()],
        Duration::from_secs(1),
    );
    // Every raw selector `check` will ask for, so none is asked before its series exist (on
    // VictoriaMetrics an early empty answer would be cached for ~10 s; see tsdb.rs).
    for sim in [&mild, &healthy] {
        for track in ["baseline", "canary"] {
            let s = selector(sim, Some(track));
            for raw in [
                format!("http_request_duration_seconds_bucket{{{s}}}"),
                format!("http_requests_total{{{s}}}"),
                format!("http_requests_total{{{s}, code=~\"5..\"}}"),
            ] {
                db.wait_for_series(&raw, SERIES_TIMEOUT);
            }
        }
    }
    let series_at = Instant::now();
    eprintln!(
        "{name}: series after {:.1}s",
        (series_at - began).as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mild_config = config(dir.path(), &db.url, &mild, "mild");
    let healthy_config = config(dir.path(), &db.url, &healthy, "healthy");

    let mut failed: Option<(i32, Value, String, usize)> = None;
    let mut mild_checks = 0;
    let mut last_mild = String::new();
    let mut tally = HealthyTally::default();
    let (mut next_mild, mut next_healthy) = (series_at, series_at);
    loop {
        let now = Instant::now();
        if failed.is_none() && now >= next_mild {
            assert!(
                now - series_at < FAIL_WITHIN,
                "{name}: the +20% canary was not failed within {FAIL_WITHIN:?} of its series \
                 ({mild_checks} checks); last:\n{last_mild}"
            );
            let (code, report, text) = check(&mild_config);
            mild_checks += 1;
            eprintln!("{name} mild #{mild_checks}: {}", summary(&report, code));
            if decision(&report, P95) == Some("fail") {
                failed = Some((code, report, text, mild_checks));
            } else {
                assert_ne!(code, 2, "{name}: check refused the config:\n{text}");
                last_mild = text;
            }
            next_mild += MILD_EVERY;
        }
        if now - series_at < HEALTHY_RUN && now >= next_healthy {
            let (code, report, text) = check(&healthy_config);
            eprintln!(
                "{name} healthy #{}: {}",
                tally.evaluations + 1,
                summary(&report, code)
            );
            for m in [P95, ERRORS] {
                let d = decision(&report, m);
                assert_ne!(
                    d,
                    Some("fail"),
                    "{name}: the judge failed a healthy canary on {m:?}:\n{text}"
                );
                *tally
                    .decisions
                    .entry(m)
                    .or_default()
                    .entry(d.unwrap_or("nothing counted yet").to_string())
                    .or_default() += 1;
            }
            assert!(
                code == 0 || code == 3,
                "{name}: a healthy canary must exit 0 or 3, got {code}:\n{text}"
            );
            tally.evaluations += 1;
            *tally.exit_codes.entry(code).or_default() += 1;
            let step = (
                report["step_index"].as_i64().unwrap_or(-1),
                report["canary_weight"].as_i64().unwrap_or(-1),
            );
            if tally.steps.last() != Some(&step) {
                tally.steps.push(step);
            }
            tally.last = Some(report);
            next_healthy += HEALTHY_EVERY;
        }
        let healthy_done = Instant::now() - series_at >= HEALTHY_RUN;
        if failed.is_some() && healthy_done {
            break;
        }
        let wake = match (failed.is_none(), healthy_done) {
            (true, true) => next_mild,
            (true, false) => next_mild.min(next_healthy),
            (false, _) => next_healthy,
        };
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }

    // What both parts saw, before any assertion on it.
    let (code, report, text, checks) = failed.expect("the loop ends on a FAIL");
    eprintln!(
        "{name}: healthy canary, {} evaluations over {HEALTHY_RUN:?} (steps {:?}): {} exit codes \
         {:?}; wall time {:.1}s",
        tally.evaluations,
        tally.steps,
        tally
            .decisions
            .iter()
            .map(|(m, ds)| format!(
                "{m}: {} PASS / {} COLLECTING / {} nothing counted yet;",
                ds.get("pass").copied().unwrap_or(0),
                ds.get("collecting").copied().unwrap_or(0),
                ds.get("nothing counted yet").copied().unwrap_or(0)
            ))
            .collect::<Vec<_>>()
            .join(" "),
        tally.exit_codes,
        began.elapsed().as_secs_f64()
    );

    // 1. The +20% canary.
    assert_eq!(
        code, 1,
        "{name}: a FAIL on a critical metric exits 1:\n{text}"
    );
    assert_eq!(report["verdict"], "fail", "{name}:\n{text}");
    let p95 = &metric(&report, P95)["sequential"];
    assert_eq!(p95["effect"], "latency_factor", "{name}:\n{text}");
    let decided_at = time(&p95["decided_at"], "decided_at");
    let rollout = mild.get("/rollouts/checkout");
    let step_start = time(
        &rollout["history"][0]["started_at"],
        "history[0].started_at",
    );
    // The console's grid: whole seconds since the epoch, the first at or before the step's start.
    let grid_start = DateTime::from_timestamp(step_start.timestamp(), 0).expect("grid start");
    let (evidence_from, seen) = first_evidence_point(&db, &mild, grid_start);
    let first_block_start = evidence_from - chrono::Duration::seconds(1);
    let evidence_blocks = (decided_at - evidence_from).num_seconds();
    eprintln!(
        "{name}: FAIL after {checks} check(s), {evidence_blocks} block(s) of evidence: \
         decided_at {decided_at}, first counted block {first_block_start}..{evidence_from} \
         (first samples: {seen}; step started {step_start}); {}",
        summary(&report, code)
    );
    assert!(
        evidence_blocks >= 1,
        "{name}: decided at {decided_at}, before the first block of evidence (ending \
         {evidence_from} + 1s): the test's idea of where evidence starts is wrong:\n{text}"
    );
    assert!(
        decided_at - first_block_start <= chrono::Duration::seconds(3),
        "{name}: the +20% canary took {evidence_blocks} blocks of evidence (decided_at \
         {decided_at}, first counted block {first_block_start}..{evidence_from}), not at most 2:\n{text}"
    );
    let estimate = p95["estimate"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (1.05..=1.5).contains(&estimate),
        "{name}: latency estimate {estimate}, not around 1.2:\n{text}"
    );
    let range = p95["range"]
        .as_array()
        .and_then(|r| Some((r.first()?.as_f64()?, r.get(1)?.as_f64()?)));
    let Some((lo, hi)) = range else {
        panic!("{name}: no range for the latency factor:\n{text}")
    };
    assert!(
        (lo <= 1.2 && 1.2 <= hi) || (lo >= 1.05 && hi <= 1.5),
        "{name}: range {lo}–{hi} is not around 1.2:\n{text}"
    );
    assert!(
        p95["requests"]["canary"].as_f64().unwrap_or(0.0) > 0.0,
        "{name}: no canary requests counted:\n{text}"
    );

    // 2. The healthy canary (its evaluations were checked as they came).
    let last = tally.last.as_ref().expect("healthy checks ran");
    for m in [P95, ERRORS] {
        assert!(
            decision(last, m).is_some(),
            "{name}: the healthy canary's {m:?} was never judged:\n{last:#}"
        );
    }
    assert!(
        metric(last, P95)["sequential"]["requests"]["canary"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0,
        "{name}: no healthy canary requests counted:\n{last:#}"
    );
}
