//! The fleet end to end: `simulate --fleet 6` serves six rollouts' metrics (labelled
//! `rollout="<name>"`) and the deploy API, a real Prometheus scrapes it, and the console under
//! tmux at 80x24, started without `--rollout` from a config that names no rollout, lists them
//! from the backend, queries each with `[fleet] service`, sorts them by what needs a human, and
//! resumes the paused one from its row.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tmux.rs"]
mod tmux;
#[path = "common/tsdb.rs"]
#[allow(dead_code)]
mod tsdb;

use simulate::{Options, Simulate};
use std::time::Duration;
use tmux::Tmux;
use tsdb::{Engine, Tsdb};

fn write_config(t: &Tmux, prometheus: &str, sim: &Simulate) -> String {
    let path = t.dir.path().join("rc.toml");
    let text = format!(
        r#"poll_interval = "1s"

[prometheus]
url = "{prometheus}"
timeout = "3s"

[backend]
kind = "http"
url = "http://{sim}"

# No [[rollouts]]: every rollout the deploy API lists, each queried by its own label, and each
# metric asked once for the whole fleet (grouped by that label and the pod-template hash).
[fleet]
service = 'rollout="$rollout"'
group_by = "rollout"

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
        sim = sim.addr
    );
    std::fs::write(&path, text).expect("config");
    path.display().to_string()
}

/// Whether `name`'s row says it waits for a human.
fn waiting(screen: &str, name: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("WAITING") && l.contains(&format!(" {name} ")))
}

#[test]
fn the_fleet_list_reads_prometheus_per_rollout_and_acts_on_the_selected_row() {
    let sim = Simulate::start_fleet(6, Options::default());
    let prom = Tsdb::start(
        Engine::Prometheus,
        &[sim.addr.as_str()],
        Duration::from_secs(1),
    );
    prom.wait_for_series(
        "http_requests_total{rollout=\"catalog\",track=\"canary\"}",
        Duration::from_secs(40),
    );
    let t = Tmux::start("fleet-console");
    let config = write_config(&t, &prom.url, &sim);
    t.run_console(&format!("--config {config}"), "");
    // The list, from the backend's /rollouts, with numbers from Prometheus per rollout.
    let (screen, took) = t.wait_for(
        "the fleet list with verdicts",
        Duration::from_secs(60),
        |s| {
            s.contains("6 rollouts")
                && waiting(s, "catalog")
                && s.contains("PASS")
                && !s.contains("NOT READ YET")
        },
    );
    eprintln!("fleet list with verdicts after {took:?}:\n{screen}");
    // The simulator's names for its six members: every one has its row.
    for name in (0..6).map(rollout_console::sim::fleet::name) {
        let name = name.as_str();
        assert!(screen.contains(name), "{name} missing:\n{screen}");
    }
    // The paused rollout waits for a human: it sorts above the running ones.
    let row = |name: &str| {
        screen
            .lines()
            .position(|l| l.contains(&format!(" {name} ")))
    };
    assert!(row("catalog") < row("checkout"), "{screen}");

    // Resume it from its row: the same prompt as on its screen, then the list says the outcome.
    t.send(&["/"]);
    t.send(&["-l", "catalog"]);
    t.send(&["Enter"]);
    t.send(&["Space"]);
    t.wait_text("Resume catalog?");
    t.send(&["y"]);
    let (screen, _) = t.wait_for("the outcome on the list", Duration::from_secs(15), |s| {
        s.contains("catalog: resume done")
    });
    assert!(!waiting(&screen, "catalog"), "{screen}");
    let actions = sim.get("/_sim/actions");
    let actions = actions.as_array().expect("list");
    assert_eq!(
        actions.len(),
        1,
        "one action reached the simulator: {actions:?}"
    );
    assert_eq!(actions[0]["action"], "resume", "{actions:?}");
    assert!(
        actions[0].to_string().contains("catalog"),
        "it went to catalog: {actions:?}"
    );

    // Enter opens the row's own screen; Esc comes back to the list.
    t.send(&["Enter"]);
    t.wait_for("catalog's screen", Duration::from_secs(10), |s| {
        s.contains("catalog v") && s.contains("p95 latency") && s.contains("Esc fleet")
    });
    t.send(&["Escape"]);
    t.wait_text("6 rollouts");
    t.send(&["q"]);
    t.wait_text("rollout-console: left");
    t.assert_terminal_sane();
}
