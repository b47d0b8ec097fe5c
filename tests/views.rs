//! Snapshots of the screen at 80x24 and 160x48 for the states an SRE meets, at a pinned time and
//! seed, with colour off (the words and symbols must carry the meaning on their own).

mod common;

use common::Harness;
use crossterm::event::KeyCode;
use rollout_console::sim::Scenario;

fn both_sizes(name: &str, h: &Harness) {
    insta::assert_snapshot!(format!("{name}_80x24"), h.render(80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), h.render(160, 48));
}

#[test]
fn healthy_progressing() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(20);
    both_sizes("healthy", &h);
}

#[test]
fn failing_latency_regression_held() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    let screen = h.render(80, 24);
    assert!(screen.contains("FAIL"), "{screen}");
    both_sizes("failing", &h);
}

#[test]
fn rolled_back_error_spike() {
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    h.advance(120);
    assert!(h.render(80, 24).contains("ROLLED BACK"));
    both_sizes("rolled_back", &h);
}

#[test]
fn paused() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    let step = h.sim.rollout().step;
    h.sim
        .rollout_mut()
        .pause(step, "alice@bastion", h.now)
        .expect("pause");
    h.advance(14);
    let screen = h.render(80, 24);
    assert!(
        screen.contains("PAUSED") && screen.contains("paused by alice@bastion"),
        "{screen}"
    );
    both_sizes("paused", &h);
}

#[test]
fn read_only_watch_mode() {
    let mut h = Harness::new(Scenario::SlowBurn, true);
    h.advance(20);
    let screen = h.render(80, 24);
    assert!(screen.contains("READ-ONLY"), "{screen}");
    assert!(
        !screen.contains("p promote"),
        "no action keys in the footer: {screen}"
    );
    both_sizes("read_only", &h);
}

#[test]
fn confirm_promote_overlay() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(20);
    h.press(KeyCode::Char('p'));
    both_sizes("confirm_promote", &h);
}

#[test]
fn confirm_override_overlay() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    h.press(KeyCode::Char('p'));
    h.type_text("check");
    both_sizes("confirm_override", &h);
}

#[test]
fn help_overlay() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(6);
    h.press(KeyCode::Char('?'));
    both_sizes("help", &h);
}
