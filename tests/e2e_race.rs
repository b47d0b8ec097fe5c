//! A promote racing a step change made elsewhere: the backend answers 409, the console says the
//! rollout moved on, does nothing more, and the receipt records the conflict.

#[path = "common/simulate.rs"]
mod simulate;
#[path = "common/tmux.rs"]
mod tmux;

use simulate::Simulate;
use tmux::Tmux;

#[test]
fn a_stale_promote_gets_409_and_the_ui_says_so() {
    let sim = Simulate::start("healthy");
    let t = Tmux::start("race");
    let config = t.dir.path().join("rc.toml");
    // A long poll interval: the console will not see the other actor's promote before `y`.
    // Prometheus is unreachable on purpose: actions must not depend on metrics.
    std::fs::write(
        &config,
        format!(
            "poll_interval = \"60s\"\n[prometheus]\nurl = \"http://127.0.0.1:1\"\n[backend]\nkind = \"http\"\nurl = \"http://{}\"\n\
             [[rollouts]]\nname = \"checkout\"\nbaseline = 'track=\"baseline\"'\ncanary = 'track=\"canary\"'\nservice = 'job=\"checkout\"'\n\
             [[metrics]]\nname = \"p95 latency\"\nquery = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{$selector}}[1m])))'\nunit = \"seconds\"\ngate = {{ max_increase_pct = 10 }}\n",
            sim.addr
        ),
    )
    .expect("config");
    t.run_console(&format!("--config {}", config.display()), "");
    t.wait_text("step 1/4");
    t.send(&["p"]);
    // Promotion with NO DATA needs the override: name + reason.
    t.wait_text("Promote checkout?");
    t.send(&["checkout", "Tab", "metrics down, promoting on the runbook"]);
    t.wait_text("runbook");
    // ...but someone else promotes first.
    let before = t.screen();
    assert!(before.contains("step 1/4"), "{before}");
    sim.act("promote", 0);
    t.send(&["Enter"]);
    let screen = t.wait_text("the rollout moved on");
    assert!(screen.contains("nothing was done"), "{screen}");
    let actions = sim.get("/_sim/actions");
    let actions = actions.as_array().expect("list");
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(
        actions[1]["answer"]
            .as_str()
            .is_some_and(|a| a.contains("moved on")),
        "{}",
        actions[1]
    );
    assert_eq!(actions[1]["expected_step"], 0);
    // After the conflict the console re-reads: it now shows step 2 without another action.
    t.wait_text("step 2/4");
    t.send(&["q"]);
    t.wait_text("rollout-console: left checkout at step 2/4");
    let audit = std::fs::read_to_string(t.audit_path()).expect("audit log");
    let last: serde_json::Value =
        serde_json::from_str(audit.lines().last().expect("a line")).expect("json");
    assert_eq!(last["result"], "conflict");
    assert_eq!(
        last["override_reason"],
        "metrics down, promoting on the runbook"
    );
}
