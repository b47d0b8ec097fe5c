//! The demo as a new user meets it, on several seeds: a healthy canary is never failed on its way
//! to 100%, and a slower one is failed soon after it slows down. Driven through the real `update`
//! with the simulator answering, polled every 2s like the demo.

mod common;

use common::Harness;
use rollout_console::domain::{RolloutState, Verdict};
use rollout_console::sim::Scenario;

#[test]
fn healthy_demos_walk_to_100_percent_without_a_single_fail() {
    let mut passes = 0;
    for seed in 1..=8 {
        let mut h = Harness::with_seed(Scenario::Healthy, seed, true);
        let mut seen = Vec::new();
        for _ in 0..110 {
            h.advance(2);
            for p in &h.model.current().panels {
                let v = p.verdict();
                assert_ne!(
                    v,
                    Verdict::Fail,
                    "seed {seed}: {} failed at {}: {}",
                    p.def.name,
                    h.now,
                    p.reason()
                );
                if p.sequential.is_some() && v == Verdict::Pass {
                    passes += 1;
                }
            }
            seen.push(h.model.current().rollout.as_ref().map(|r| r.state));
        }
        assert_eq!(
            h.model.current().rollout.as_ref().map(|r| r.state),
            Some(RolloutState::Completed),
            "seed {seed}"
        );
        let events = h.events_text();
        assert!(!events.contains("→ FAIL"), "seed {seed}:\n{events}");
    }
    // The judge does say PASS on the way (at each hold's end at the latest).
    assert!(passes > 0);
}

#[test]
fn a_slower_canary_is_failed_within_seconds_of_slowing_down() {
    for seed in 1..=4 {
        let mut h = Harness::with_seed(Scenario::LatencyRegression, seed, true);
        // The canary slows down at 25%, reached ~25s after the console opens.
        let mut at_25 = None;
        let mut failed = None;
        for _ in 0..60 {
            h.advance(2);
            let step = h.model.current().rollout.as_ref().map_or(0, |r| r.step);
            if step >= 1 && at_25.is_none() {
                at_25 = Some(h.now);
            }
            if h.model.current().panels[0].verdict() == Verdict::Fail {
                failed = Some(h.now);
                break;
            }
        }
        let (at_25, failed) = (at_25.expect("reached 25%"), failed.expect("failed"));
        let after = (failed - at_25).num_seconds();
        eprintln!("seed {seed}: p95 FAIL {after}s after reaching 25%");
        assert!(
            after <= 12,
            "seed {seed}: failed {after}s after reaching 25%"
        );
        let reason = h.model.current().panels[0].reason();
        assert!(
            reason.starts_with("canary is slower: latency ×1."),
            "{reason}"
        );
    }
}
