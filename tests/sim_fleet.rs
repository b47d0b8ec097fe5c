//! `simulate --fleet N` over real HTTP: every rollout listed and readable by name, an action on
//! one reaching only that one, an unknown name a 404, and /metrics labelling each one's series.

#[path = "common/simulate.rs"]
mod simulate;

use serde_json::Value;
use std::collections::BTreeSet;

use simulate::{Options, Simulate};

const FLEET: [&str; 8] = [
    "checkout",
    "payments",
    "search",
    "cart",
    "catalog",
    "inventory",
    "shipping",
    "orders",
];

/// What an action on another rollout could change.
fn standing(r: &Value) -> (Value, Value, Value, Value, Value, Value) {
    (
        r["state"].clone(),
        r["step"].clone(),
        r["canary_weight"].clone(),
        r["step_started_at"].clone(),
        r["paused_by"].clone(),
        r["message"].clone(),
    )
}

fn rollouts(sim: &Simulate) -> Vec<Value> {
    sim.get("/rollouts")["rollouts"]
        .as_array()
        .expect("a rollouts array")
        .clone()
}

#[test]
fn a_fleet_of_eight_is_listed_read_acted_on_and_scraped_one_by_one() {
    // Speed 1: ten-minute holds, so only the test moves the rollouts.
    let sim = Simulate::start_fleet(8, Options::default());

    let before = rollouts(&sim);
    let names: Vec<&str> = before.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, FLEET);
    let states: Vec<&str> = before.iter().filter_map(|r| r["state"].as_str()).collect();
    assert!(
        states.contains(&"paused") && states.contains(&"completed"),
        "{states:?}"
    );
    assert_eq!(before[4]["paused_by"], "bob@laptop");

    for name in FLEET {
        let (status, body) = sim.get_text(&format!("/rollouts/{name}"));
        assert_eq!(status, 200, "{name}: {body}");
        let r: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(r["name"], name);
        assert!(r["steps"].as_array().is_some_and(|s| s.len() == 4), "{r}");
    }
    let (status, body) = sim.get_text("/rollouts/nope");
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("no rollout named \\\"nope\\\"") && body.contains("checkout"),
        "{body}"
    );

    // Promote payments: it moves to 25%, nothing else moves.
    assert_eq!(before[1]["step"], 0);
    let (status, promoted) = sim.act_on("payments", "promote", 0);
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(
        (
            promoted["step"].as_u64(),
            promoted["canary_weight"].as_u64()
        ),
        (Some(1), Some(25))
    );
    let after = rollouts(&sim);
    for (was, now) in before.iter().zip(&after) {
        if now["name"] == "payments" {
            assert_eq!(
                (now["step"].as_u64(), now["canary_weight"].as_u64()),
                (Some(1), Some(25))
            );
        } else {
            assert_eq!(standing(was), standing(now), "{} changed", now["name"]);
        }
    }
    // An action on a name the fleet lacks is a 404 too, and changes nothing.
    let (status, answer) = sim.act_on("nope", "pause", 0);
    assert_eq!(status, 404, "{answer}");
    let (status, _) = sim.act_on("payments", "promote", 0);
    assert_eq!(status, 409, "a stale step on payments is still refused");

    // Every rollout's series, labelled with its name.
    let (status, metrics) = sim.get_text("/metrics");
    assert_eq!(status, 200);
    let labels: BTreeSet<&str> = metrics
        .lines()
        .filter_map(|l| l.split("rollout=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(labels, FLEET.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(
        metrics
            .matches("# TYPE http_requests_total counter")
            .count(),
        1
    );
    for name in FLEET {
        let series = metrics
            .lines()
            .filter(|l| l.contains(&format!("job=\"{name}\",rollout=\"{name}\",track=")))
            .count();
        // 2 tracks × (24 buckets + +Inf + sum + count + 2 codes).
        assert_eq!(series, 2 * 29, "{name}");
    }
}

#[test]
fn a_fleet_outside_1_to_200_or_with_rollout_is_refused_clearly() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollout-console"))
            .args(args)
            .env("XDG_STATE_HOME", std::env::temp_dir().join("rc-e2e-state"))
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for n in ["0", "201", "many"] {
        let (code, err) = run(&["simulate", "--listen", "127.0.0.1:0", "--fleet", n]);
        assert_eq!(code, Some(2), "--fleet {n}: {err}");
        assert!(err.contains("a fleet is 1 to 200 rollouts"), "{err}");
    }
    let (code, err) = run(&[
        "simulate",
        "--listen",
        "127.0.0.1:0",
        "--fleet",
        "3",
        "--rollout",
        "x",
    ]);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("drop --rollout"), "{err}");
}
