//! Figures for the metrics path, printed (not asserted): run with `cargo bench --bench metrics`.
//! - parsing a query_range response of 1,000 series × 360 points: time and allocations;
//! - with `ROLLOUT_BENCH_PROMETHEUS=1` and Prometheus installed: one poll of 8 metrics against a real
//!   local Prometheus scraping the simulator, from the start of the poll to the screen updated.

#[path = "../tests/common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn matrix_body(series: usize, points: usize) -> String {
    let mut out = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for s in 0..series {
        if s > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#"{{"metric":{{"__name__":"http_requests_total","job":"checkout","instance":"10.0.{}.{}:8080","track":"canary"}},"values":["#, s / 250, s % 250));
        for p in 0..points {
            if p > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                r#"[{}.{:03},"{}"]"#,
                1_763_890_000 + p * 10,
                p % 1000,
                0.1 + (s * p) as f64 * 1e-4
            ));
        }
        out.push_str("]}");
    }
    out.push_str("]}}");
    out
}

fn bench_parse() {
    let body = matrix_body(1000, 360);
    println!(
        "query_range response: 1,000 series × 360 points, {:.1} MB",
        body.len() as f64 / 1e6
    );
    let runs = 5;
    let mut best = Duration::MAX;
    let (mut allocs, mut bytes) = (0, 0);
    for _ in 0..runs {
        let (a0, b0) = (
            ALLOCS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        let start = Instant::now();
        let parsed = rollout_console::metrics::decode::parse_response(200, body.as_bytes());
        let took = start.elapsed();
        assert!(parsed.is_ok(), "the benchmark body parses");
        drop(parsed);
        best = best.min(took);
        allocs = ALLOCS.load(Ordering::Relaxed) - a0;
        bytes = BYTES.load(Ordering::Relaxed) - b0;
    }
    println!(
        "  parse: best of {runs} {:.1} ms, {allocs} allocations, {:.1} MB allocated",
        best.as_secs_f64() * 1e3,
        bytes as f64 / 1e6
    );
}

fn bench_poll() {
    use rollout_console::app::model::{MetricPanel, Model, Settings};
    use rollout_console::app::{Effect, Msg, update};
    use rollout_console::config::PrometheusConfig;
    use rollout_console::domain::{Gate, MetricDef, Unit};
    use rollout_console::metrics::MetricsSource;
    use rollout_console::metrics::client::PrometheusClient;
    use rollout_console::metrics::source::{PrometheusSource, Selectors};
    use rollout_console::sim::{SimOptions, Simulator, server};
    use std::sync::{Arc, Mutex};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sim = Simulator::new(SimOptions { seed: 1, speed: 1.0, ..SimOptions::default() }, chrono::Utc::now());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(server::serve(listener, Arc::new(Mutex::new(sim)), std::future::pending()));
        let target = addr.clone();
        let prom = tokio::task::spawn_blocking(move || {
            let p = tsdb::Tsdb::start(tsdb::Engine::Prometheus, &[target], Duration::from_secs(1));
            p.wait_for_series("http_requests_total{job=\"checkout\"}", Duration::from_secs(40));
            p
        })
        .await
        .expect("prometheus");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let cfg = PrometheusConfig {
            timeout: Duration::from_secs(5),
            max_queries_per_second: toml::Spanned::new(0..0, 1000.0),
            ..PrometheusConfig::for_url(prom.url.clone())
        };
        let selectors = Selectors {
            baseline: "job=\"checkout\", track=\"baseline\"".into(),
            canary: "job=\"checkout\", track=\"canary\"".into(),
            service: "job=\"checkout\"".into(),
            rollout: "checkout".into(),
        };
        let source = PrometheusSource::new(PrometheusClient::new(&cfg).expect("client"), selectors);
        let queries = [
            "histogram_quantile(0.50, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
            "histogram_quantile(0.90, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{$selector}[$window])))",
            "sum(rate(http_requests_total{$selector, code=~\"5..\"}[$window])) / sum(rate(http_requests_total{$selector}[$window]))",
            "sum(rate(http_requests_total{$selector}[$window]))",
            "sum(rate(http_request_duration_seconds_sum{$selector}[$window])) / sum(rate(http_request_duration_seconds_count{$selector}[$window]))",
            "sum(rate(http_requests_total{$selector, code=\"200\"}[$window]))",
        ];
        let panels: Vec<MetricPanel> = queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let gate = Gate { max_increase_pct: Some(10.0), ..Gate::default() };
                let mut p = MetricPanel::new(MetricDef { name: format!("m{i}"), unit: Unit::Seconds, gate }, (*q).into());
                p.window = Some(Duration::from_secs(10));
                p
            })
            .collect();
        let settings = Settings {
            rollout_name: "checkout".into(),
            read_only: true,
            poll_interval: Duration::from_secs(5),
            min_budget_to_promote_pct: 10.0,
            actor: "bench".into(),
            ssh_client: None,
            source_label: "bench".into(),
            audit_path: "/dev/null".into(),
        };
        let theme = rollout_console::ui::Theme { color: true };
        let mut timings = Vec::new();
        let mut queries_per_poll = 0;
        for _ in 0..10 {
            let mut model = Model::new(settings.clone(), panels.clone(), vec![], chrono::Utc::now());
            let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).expect("terminal");
            let start = Instant::now();
            for effect in update(&mut model, Msg::Tick(chrono::Utc::now())) {
                if let Effect::FetchMetrics {
                    generation,
                    request,
                    ..
                } = effect {
                    let result = source.fetch(&request).await;
                    queries_per_poll = result.queries;
                    update(&mut model, Msg::MetricsFetched { generation, at: chrono::Utc::now(), result });
                }
            }
            terminal.draw(|f| rollout_console::ui::draw(f, &model, &theme)).expect("draw");
            timings.push(start.elapsed());
        }
        timings.sort();
        println!(
            "poll of 8 metrics (5m range at 5s step, both tracks) against a local Prometheus, to the screen drawn at 160x48:\n  {queries_per_poll} queries per poll; median {:.1} ms, best {:.1} ms, worst {:.1} ms over {} polls",
            timings[timings.len() / 2].as_secs_f64() * 1e3,
            timings[0].as_secs_f64() * 1e3,
            timings[timings.len() - 1].as_secs_f64() * 1e3,
            timings.len()
        );
        drop(prom);
    });
}

fn main() {
    bench_parse();
    if std::env::var_os("ROLLOUT_BENCH_PROMETHEUS").is_some() {
        bench_poll();
    } else {
        println!("(set ROLLOUT_BENCH_PROMETHEUS=1 to time a poll against a real local Prometheus)");
    }
}
