//! What the console itself costs with a fleet of 50, printed (not asserted): run with
//! `cargo bench --bench fleet_console` (Prometheus and tmux installed; about 4 minutes).
//!
//! A real Prometheus scrapes `simulate --fleet 50` every 5 s; the real binary runs under tmux
//! from a config that names no rollout (so it lists the 50 from the deploy API and queries each
//! with `[fleet] service`), 4 metrics (two with raw counters for the sequential judge) and 1 SLO
//! each, polling every 5 s. For a minute on the fleet list, then a minute with one rollout open,
//! it prints the console's CPU (utime + stime from /proc, as a share of one core), its RSS (now
//! and peak), and the queries Prometheus answered (its own `prometheus_http_requests_total`).

#[path = "../tests/common/simulate.rs"]
mod simulate;
#[path = "../tests/common/tmux.rs"]
mod tmux;
#[path = "../tests/common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use simulate::{Options, Simulate};
use std::time::{Duration, Instant};
use tmux::Tmux;
use tsdb::{Engine, Tsdb};

const FLEET: usize = 50;
const MEASURE: Duration = Duration::from_secs(60);

fn config(prometheus: &str, sim: &Simulate, grouped: bool) -> String {
    let group_by = if grouped {
        "group_by = \"rollout\""
    } else {
        ""
    };
    format!(
        r#"poll_interval = "5s"

[prometheus]
url = "{prometheus}"
timeout = "5s"

[backend]
kind = "http"
url = "http://{sim}"

[fleet]
service = 'rollout="$rollout"'
{group_by}

[[metrics]]
name = "p95 latency"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[$window])))'
unit = "seconds"
histogram = 'http_request_duration_seconds_bucket{{$selector}}'
gate = {{ max_increase_pct = 25, for = 2, severity = "hold" }}

[[metrics]]
name = "p99 latency"
query = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[$window])))'
unit = "seconds"
gate = {{ max_increase_pct = 50, for = 2, severity = "hold" }}

[[metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{$selector, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "ratio"
errors = 'http_requests_total{{$selector, code=~"5.."}}'
total = 'http_requests_total{{$selector}}'
gate = {{ max = 0.01, max_ratio = 2.0, min_baseline = 0.005, for = 2 }}

[[metrics]]
name = "request rate"
query = 'sum(rate(http_requests_total{{$selector}}[$window]))'
unit = "rps"

[[slos]]
name = "availability"
objective = 99.95
window = "30d"
error_ratio = 'sum(rate(http_requests_total{{$service, code=~"5.."}}[$window])) / sum(rate(http_requests_total{{$service}}[$window]))'
"#,
        sim = sim.addr
    )
}

/// utime + stime of `pid`, in clock ticks (100 a second on Linux).
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields[n - 3].parse::<u64>().unwrap_or(0);
    field(14) + field(15)
}

/// VmRSS and VmHWM of `pid`, in KiB.
fn rss_kib(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

/// Queries Prometheus has answered, from its own /metrics (it does not scrape itself here).
fn queries_answered(prom: &Tsdb) -> f64 {
    let (_, text) = prom.get("/metrics").expect("Prometheus's /metrics");
    text.lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && (l.contains("handler=\"/api/v1/query\"")
                    || l.contains("handler=\"/api/v1/query_range\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Figures {
    cpu_pct: f64,
    rss_mib: f64,
    peak_mib: f64,
    queries_per_poll: f64,
}

fn measure(pid: &str, prom: &Tsdb) -> Figures {
    let (ticks, queries, start) = (cpu_ticks(pid), queries_answered(prom), Instant::now());
    std::thread::sleep(MEASURE);
    let secs = start.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid) - ticks) as f64 / 100.0;
    let asked = queries_answered(prom) - queries;
    let (rss, peak) = rss_kib(pid);
    Figures {
        cpu_pct: 100.0 * cpu / secs,
        rss_mib: rss as f64 / 1024.0,
        peak_mib: peak as f64 / 1024.0,
        queries_per_poll: asked / (secs / 5.0),
    }
}

fn main() {
    if !Engine::Prometheus.is_installed() {
        eprintln!("fleet_console: Prometheus is not installed (scripts/test.sh installs it)");
        return;
    }
    let sim = Simulate::start_fleet(FLEET, Options::default());
    let prom = Tsdb::start(
        Engine::Prometheus,
        &[sim.addr.as_str()],
        Duration::from_secs(5),
    );
    prom.wait_for_series(
        "http_requests_total{rollout=\"svc-50\",track=\"canary\"}",
        Duration::from_secs(60),
    );
    let mut rows = Vec::new();
    for grouped in [false, true] {
        let way = if grouped {
            "grouped (`[fleet] group_by`)"
        } else {
            "a query per rollout"
        };
        let t = Tmux::start(if grouped {
            "fleet-bench-g"
        } else {
            "fleet-bench"
        });
        let path = t.dir.path().join("rc.toml");
        std::fs::write(&path, config(&prom.url, &sim, grouped)).expect("config");
        t.run_console(&format!("--config {}", path.display()), "");
        let (_, took) = t.wait_for(
            "the fleet list with every row read",
            Duration::from_secs(90),
            |s| s.contains("50 rollouts") && s.contains("running") && !s.contains("NOT READ YET"),
        );
        let pid = String::from_utf8(
            std::process::Command::new("pgrep")
                .args([
                    "-f",
                    &format!("rollout-console --config {}", path.display()),
                ])
                .output()
                .expect("pgrep")
                .stdout,
        )
        .expect("utf-8");
        let pid = pid.lines().next().expect("the console's pid").to_string();
        println!("{way}: the list with every row read after {took:.1?}");
        // Let the start-up burst (every row asked at once) pass.
        std::thread::sleep(Duration::from_secs(20));
        let list = measure(&pid, &prom);
        t.send(&["Enter"]);
        t.wait_for("one rollout open", Duration::from_secs(10), |s| {
            s.contains("Esc fleet")
        });
        let open = measure(&pid, &prom);
        t.send(&["q"]);
        rows.push((way, "fleet list on screen", list));
        rows.push((way, "one rollout open", open));
    }
    println!();
    println!(
        "| console, {FLEET} rollouts, 5 s poll | CPU (share of one core) | RSS (peak) | queries per 5 s |"
    );
    println!("|---|---|---|---|");
    for (way, what, f) in rows {
        println!(
            "| {way}, {what} | {:.1}% | {:.1} MiB ({:.1} MiB) | {:.0} |",
            f.cpu_pct, f.rss_mib, f.peak_mib, f.queries_per_poll
        );
    }
}
