//! End to end against real Prometheus-compatible engines: our simulator serves /metrics over HTTP,
//! a real Prometheus (and a real VictoriaMetrics) scrapes it every second, and the console's
//! metrics source queries the engine. Each engine is stopped at the end, also when a test fails.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use chrono::Utc;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rollout_console::app::model::{Freshness, MetricPanel, Model, Settings, SloPanel};
use rollout_console::app::{Effect, Msg, update};
use rollout_console::config::PrometheusConfig;
use rollout_console::domain::gate::ForSpec;
use rollout_console::domain::{Gate, MetricDef, SloDef, Unit, Verdict};
use rollout_console::metrics::client::PrometheusClient;
use rollout_console::metrics::source::{PrometheusSource, Selectors};
use rollout_console::metrics::template::{Vars, render};
use rollout_console::metrics::{FetchRequest, MetricQuery, MetricsSource, SloQuery};
use rollout_console::sim::Scenario;
use simulate::{InProcess, in_process};
use tsdb::{Engine, Tsdb};

const P95: &str = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))";
const ERROR_RATIO: &str = "sum(rate(http_requests_total{$selector, code=~\"5..\"}[$window])) / sum(rate(http_requests_total{$selector}[$window]))";
const RPS: &str = "sum(rate(http_requests_total{$selector}[$window]))";
const SLO_RATIO: &str = "sum(rate(http_requests_total{$service, code=~\"5..\"}[$window])) / sum(rate(http_requests_total{$service}[$window]))";
const BASELINE: &str = "job=\"checkout\", track=\"baseline\"";
const CANARY: &str = "job=\"checkout\", track=\"canary\"";
const SERVICE: &str = "job=\"checkout\"";
const WINDOW: Duration = Duration::from_secs(10);

async fn start_engine(engine: Engine, sim: &InProcess) -> Tsdb {
    let target = sim.addr.clone();
    let tsdb = tokio::task::spawn_blocking(move || {
        let tsdb = Tsdb::start(engine, &[target], Duration::from_secs(1));
        tsdb.wait_for_series(
            "http_requests_total{job=\"checkout\",track=\"canary\"}",
            Duration::from_secs(40),
        );
        tsdb
    })
    .await
    .expect("engine starts");
    // Enough scrapes for a rate over the 10s window.
    tokio::time::sleep(Duration::from_secs(6)).await;
    tsdb
}

fn source_for(url: &str, timeout: Duration) -> PrometheusSource {
    let cfg = PrometheusConfig {
        timeout,
        max_queries_per_second: toml::Spanned::new(0..0, 1000.0),
        ..PrometheusConfig::for_url(url)
    };
    let selectors = Selectors {
        baseline: BASELINE.into(),
        canary: CANARY.into(),
        service: SERVICE.into(),
        rollout: "checkout".into(),
    };
    PrometheusSource::new(PrometheusClient::new(&cfg).expect("client"), selectors)
}

fn request(lookback: Duration) -> FetchRequest {
    let q = |name: &str, query: &str| MetricQuery {
        name: name.into(),
        query: query.into(),
        window: Some(WINDOW),
        counts: None,
    };
    FetchRequest {
        now: Utc::now(),
        lookback,
        step: Duration::from_secs(1),
        metrics: vec![
            q("p95 latency", P95),
            q("error rate", ERROR_RATIO),
            q("request rate", RPS),
        ],
        slos: vec![SloQuery {
            name: "availability".into(),
            error_ratio: SLO_RATIO.into(),
            window: Duration::from_secs(3600),
            recorded: Vec::new(),
        }],
        tracks: None,
        priority: rollout_console::metrics::Priority::Open,
        rollout: None,
    }
}

/// The console's canary p95 points equal what the same PromQL returns from the engine directly.
async fn numbers_match_the_api(engine: Engine) {
    let sim = in_process(Scenario::Healthy, 21).await;
    let tsdb = start_engine(engine, &sim).await;
    let source = source_for(&tsdb.url, Duration::from_secs(5));
    let req = request(Duration::from_secs(20));
    let result = source.fetch(&req).await;
    assert!(
        result.queries <= 2 * req.metrics.len() + 8 * req.slos.len(),
        "queries per poll: {}",
        result.queries
    );
    let (_, p95) = &result.metrics[0];
    let p95 = p95.as_ref().expect("p95 answers");
    assert!(p95.canary.points.len() >= 5, "{:?}", p95.canary);
    for (track, selector, series) in [
        ("canary", CANARY, &p95.canary),
        ("baseline", BASELINE, &p95.baseline),
    ] {
        let promql = render(
            P95,
            &Vars {
                selector: Some(selector),
                service: None,
                window: Some(WINDOW),
                rollout: None,
            },
        )
        .expect("render");
        let first = series.points.first().expect("points").at.timestamp();
        let last = series.points.last().expect("points").at.timestamp();
        let direct = tsdb.query_range(&promql, first, last, 1);
        let values = direct["data"]["result"][0]["values"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let by_time: BTreeMap<i64, f64> = values
            .iter()
            .filter_map(|v| Some((v[0].as_f64()? as i64, v[1].as_str()?.parse::<f64>().ok()?)))
            .collect();
        let mut compared = 0;
        for p in &series.points {
            if let Some(v) = by_time.get(&p.at.timestamp()) {
                if v.is_finite() || p.value.is_finite() {
                    assert!(
                        (v - p.value).abs() <= 1e-9 * v.abs().max(1.0),
                        "{} {track} at {}: console {} vs API {v}",
                        engine.name(),
                        p.at,
                        p.value
                    );
                }
                compared += 1;
            }
        }
        assert!(
            compared >= 5,
            "{} {track}: only {compared} points compared; API said {direct}",
            engine.name()
        );
    }
    let (_, rps) = &result.metrics[2];
    let rps = rps.as_ref().expect("rps");
    let share = rps.canary.latest().expect("canary rps").value
        / (rps.canary.latest().expect("c").value + rps.baseline.latest().expect("b").value);
    assert!(
        (share - 0.05).abs() < 0.03,
        "{}: canary share of traffic {share}",
        engine.name()
    );
    let (_, slo) = &result.slos[0];
    let slo = slo.as_ref().expect("slo answers");
    assert!(slo.error_ratio.is_some_and(|r| r < 0.01), "{slo:?}");
    assert_eq!(slo.window_ratios.len(), 7);
}

/// latency-regression: once the canary is at 25%, its p95 sits ~40% above the baseline's.
async fn latency_regression_shows(engine: Engine) {
    let sim = in_process(Scenario::LatencyRegression, 21).await;
    let promote = reqwest::Client::new()
        .post(format!("{}/rollouts/checkout/promote", sim.url))
        .json(&serde_json::json!({"expected_step": 0, "actor": "test"}))
        .send()
        .await
        .expect("promote");
    assert!(promote.status().is_success());
    let tsdb = start_engine(engine, &sim).await;
    // Let the 10s window fill with post-promotion traffic only.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let source = source_for(&tsdb.url, Duration::from_secs(5));
    let result = source.fetch(&request(Duration::from_secs(10))).await;
    let p95 = result.metrics[0].1.as_ref().expect("p95");
    let (b, c) = (
        p95.baseline.latest().expect("baseline").value,
        p95.canary.latest().expect("canary").value,
    );
    let ratio = c / b;
    assert!(
        (ratio - 1.4).abs() < 0.15,
        "{}: canary p95 {c} / baseline {b} = {ratio}",
        engine.name()
    );
}

fn settings() -> Settings {
    Settings {
        rollout_name: "checkout".into(),
        read_only: true,
        poll_interval: Duration::from_secs(1),
        min_budget_to_promote_pct: 10.0,
        actor: "test@host".into(),
        ssh_client: None,
        source_label: "test".into(),
        audit_path: "/dev/null".into(),
    }
}

fn model() -> Model {
    let gate = Gate {
        max_increase_pct: Some(10.0),
        for_: ForSpec::Checks(2),
        ..Gate::default()
    };
    let mut panel = MetricPanel::new(
        MetricDef {
            name: "p95 latency".into(),
            unit: Unit::Seconds,
            gate,
        },
        P95.into(),
    );
    panel.window = Some(WINDOW);
    let slo = SloPanel::new(
        SloDef {
            name: "availability".into(),
            objective_pct: 99.95,
            window: Duration::from_secs(3600),
            recorded: Vec::new(),
        },
        SLO_RATIO.into(),
    );
    Model::new(settings(), vec![panel], vec![slo], Utc::now())
}

/// One poll through the real update loop: only the metrics effect is run.
async fn poll(model: &mut Model, source: &dyn MetricsSource) {
    let now = Utc::now();
    model.current_mut().polls.metrics_started = None;
    for effect in update(model, Msg::Tick(now)) {
        if let Effect::FetchMetrics {
            generation,
            request,
            ..
        } = effect
        {
            let result = source.fetch(&request).await;
            update(
                model,
                Msg::MetricsFetched {
                    generation,
                    at: Utc::now(),
                    result,
                },
            );
        }
    }
}

/// The engine dies mid-run: panels go NO DATA with the error, then STALE, and recover by themselves.
async fn engine_killed_and_restarted(engine: Engine) {
    let sim = in_process(Scenario::Healthy, 21).await;
    let mut tsdb = start_engine(engine, &sim).await;
    let source = source_for(&tsdb.url, Duration::from_secs(2));
    let mut m = model();
    poll(&mut m, &source).await;
    assert_ne!(
        m.current().panels[0].verdict(),
        Verdict::NoData,
        "{:?}",
        m.current().panels[0].reason()
    );
    assert_eq!(
        m.current().panels[0].freshness(m.now, m.settings.poll_interval),
        Freshness::Live
    );

    tsdb.stop();
    poll(&mut m, &source).await;
    assert_eq!(
        m.current().panels[0].verdict(),
        Verdict::NoData,
        "a dead source is never a pass"
    );
    // A graceful stop can take longer than 3 polls: then the panel is already STALE. Either way
    // the error is on the panel, in words.
    match m.current().panels[0].freshness(m.now, m.settings.poll_interval) {
        Freshness::Error(e) | Freshness::Stale { why: e, .. } => {
            assert!(e.contains("cannot reach"), "{e}")
        }
        other => panic!(
            "{}: expected an error on the panel, got {other:?}",
            engine.name()
        ),
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    poll(&mut m, &source).await;
    match m.current().panels[0].freshness(m.now, m.settings.poll_interval) {
        Freshness::Stale { why, .. } => assert!(!why.is_empty()),
        other => panic!("{}: expected STALE, got {other:?}", engine.name()),
    }
    assert!(m.current().slos[0].error.is_some());

    // Keep the restarted engine alive until the end of the test (dropping it stops it).
    let _tsdb = tokio::task::spawn_blocking(move || {
        tsdb.restart();
        tsdb
    })
    .await
    .expect("restart");
    let mut recovered = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        poll(&mut m, &source).await;
        if m.current().panels[0].freshness(m.now, m.settings.poll_interval) == Freshness::Live
            && m.current().panels[0].verdict() != Verdict::NoData
        {
            recovered = true;
            break;
        }
    }
    assert!(
        recovered,
        "{}: the panel did not recover: {}",
        engine.name(),
        m.current().panels[0].reason()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_numbers_match_the_api() {
    numbers_match_the_api(Engine::Prometheus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_numbers_match_the_api() {
    numbers_match_the_api(Engine::VictoriaMetrics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_latency_regression() {
    latency_regression_shows(Engine::Prometheus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_latency_regression() {
    latency_regression_shows(Engine::VictoriaMetrics).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_killed_and_restarted() {
    engine_killed_and_restarted(Engine::Prometheus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoriametrics_killed_and_restarted() {
    engine_killed_and_restarted(Engine::VictoriaMetrics).await;
}

#[path = "common/stub.rs"]
mod stub;

/// A broken Prometheus (garbage, a 503, too slow) gives per-panel errors in words, never a crash
/// and never a verdict other than NO DATA; the screen still draws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_503_and_slow_answers_are_per_panel_errors() {
    let cases: Vec<(&str, stub::Reply, &str)> = vec![
        ("garbage", stub::Reply::Raw(200, "text/html".into(), "<html>oops</html>".into()), "not a Prometheus API response"),
        (
            "503",
            stub::Reply::Json(503, r#"{"status":"error","errorType":"unavailable","error":"too many queries in flight"}"#.into()),
            "too many queries in flight",
        ),
        ("slow", stub::Reply::Slow(Duration::from_secs(5), Box::new(stub::Reply::Json(200, "{}".into()))), "did not answer within prometheus.timeout"),
    ];
    for (name, reply, expected) in cases {
        let reply = Arc::new(reply);
        let served = reply.clone();
        let server = stub::start(move |_| (*served).clone());
        let source = source_for(&server.url, Duration::from_millis(500));
        let mut m = model();
        poll(&mut m, &source).await;
        let panel = &m.current().panels[0];
        assert_eq!(panel.verdict(), Verdict::NoData, "{name}");
        let reason = panel.reason();
        assert!(reason.starts_with("query failed: "), "{name}: {reason}");
        assert!(reason.contains(expected), "{name}: {reason}");
        assert!(
            m.current().slos[0].error.is_some(),
            "{name}: the SLO panel shows the error too"
        );
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).expect("terminal");
        terminal
            .draw(|f| {
                rollout_console::ui::draw(f, &m, &rollout_console::ui::Theme { color: false })
            })
            .expect("draw");
        let screen = terminal.backend().to_string();
        assert!(screen.contains("NO DATA ERR"), "{name}: {screen}");
    }
}
