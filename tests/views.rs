//! Snapshots of the screen at 80x24 and 160x48 for the states an SRE meets, at a pinned time and
//! seed, with colour off (the words and symbols must carry the meaning on their own).

mod common;

use common::Harness;
use crossterm::event::KeyCode;
use rollout_console::domain::action::ActionKind;
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

#[test]
fn aborted_by_a_failed_analysis() {
    use rollout_console::domain::action::ActionKind;
    use rollout_console::domain::{AnalysisPhase, AnalysisResult};
    let mut h = Harness::new(Scenario::Healthy, false);
    // What the Argo backend offers.
    h.model.actions = ActionKind::ALL.to_vec();
    h.advance(10);
    let run = "checkout-7b9f4c6d5-2".to_string();
    let message =
        "metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)".to_string();
    let r = h.sim.rollout_mut();
    r.analysis = vec![
        AnalysisResult {
            run: run.clone(),
            metric: "success-rate".into(),
            phase: AnalysisPhase::Failed,
            value: Some("[0.91]".into()),
            message: Some(message.clone()),
            at: None,
        },
        AnalysisResult {
            run,
            metric: "p99-latency".into(),
            phase: AnalysisPhase::Successful,
            value: Some("[0.24]".into()),
            message: None,
            at: None,
        },
    ];
    let step = r.step;
    let now = h.now;
    r.rollback(step, &format!("RolloutAborted: {message}"), now)
        .expect("abort");
    h.advance(4);
    let screen = h.render(80, 24);
    assert!(
        screen.contains("ROLLED BACK") && screen.contains("t retry") && screen.contains("u undo"),
        "{screen}"
    );
    let large = h.render(160, 48);
    assert!(large.contains("✗ success-rate FAILED [0.91]"), "{large}");
    assert!(large.contains("✓ p99-latency successful [0.24]"), "{large}");
    both_sizes("aborted_by_analysis", &h);
}

/// One 80x24 snapshot; returns the screen for the test's own checks.
fn small(name: &str, h: &Harness) -> String {
    let screen = h.render(80, 24);
    insta::assert_snapshot!(format!("{name}_80x24"), screen.clone());
    screen
}

fn pause_now(h: &mut Harness) {
    let step = h.sim.rollout().step;
    let now = h.now;
    h.sim
        .rollout_mut()
        .pause(step, "alice@bastion", now)
        .expect("pause");
}

/// The line of the screen that contains `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
}

#[test]
fn healthy_paused_in_a_long_hold() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(70);
    pause_now(&mut h);
    h.advance(6);
    let screen = small("scenario_healthy_paused", &h);
    // Each phase cell keeps a gap: "paused, 1m25s leftfinal" was one word.
    let cells = line_with(&screen, "paused");
    assert!(!cells.contains("leftfinal"), "{screen}");
    assert!(
        screen.contains("paused — ") && screen.contains("of holds left once resumed"),
        "{screen}"
    );
}

#[test]
fn latency_regression_held_and_paused() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(300);
    let screen = small("scenario_latency_regression_held", &h);
    // Held at 25% for minutes: no countdown that never moves.
    assert!(screen.contains("held — no ETA"), "{screen}");
    assert!(!screen.contains("ETA 100%"), "{screen}");
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(40);
    pause_now(&mut h);
    h.advance(4);
    let screen = small("scenario_latency_regression_paused", &h);
    assert!(screen.contains("of holds left once resumed"), "{screen}");
}

#[test]
fn error_spike_alerting_and_paused() {
    // Between the judge's FAIL (09:30:28) and the controller's rollback (09:30:36).
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    h.advance(32);
    let screen = small("scenario_error_spike_alerting", &h);
    assert!(screen.contains("console advises roll back"), "{screen}");
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    h.advance(20);
    pause_now(&mut h);
    h.advance(4);
    small("scenario_error_spike_paused", &h);
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    h.advance(120);
    let screen = small("scenario_error_spike_rolled_back", &h);
    assert!(screen.contains("rolled back — no ETA"), "{screen}");
    // The header says ROLLED BACK: at 80 columns the reason drops that lead and keeps its
    // source whole rather than cutting "(controller analysis)".
    let reason = line_with(&screen, " » ");
    assert!(
        reason.contains("for 2 checks (controller analysis)") && !reason.contains('…'),
        "{screen}"
    );
    let wide = h.render(160, 48);
    assert!(
        line_with(&wide, " » ").contains("» rolled back: canary error rate"),
        "{wide}"
    );
}

/// The "why" line at 80x24 once `scenario` (seed 7) has run its course, the backend offering
/// undo or not.
fn why_when_done(scenario: Scenario, read_only: bool, undo: bool) -> String {
    let mut h = Harness::new(scenario, read_only);
    if undo {
        h.model.actions.push(ActionKind::Undo);
    }
    h.advance(200);
    let screen = h.render(80, 24);
    assert!(screen.contains("COMPLETED"), "{screen}");
    line_with(&screen, " » ").to_string()
}

#[test]
fn a_rollout_completed_while_a_metric_fails_says_so_first() {
    // Seed 7's slow burn: the controller's analysis promotes it all the way while the judge
    // finds the canary's errors higher; "completed" alone would read as all is well.
    let why = why_when_done(Scenario::SlowBurn, false, false);
    assert!(
        why.contains("» completed while error rate FAILs: failing more: errors"),
        "{why}"
    );
    // The simulator has no undo; a backend with one is told where to find it.
    assert!(!why.contains("undoes"), "{why}");
    let why = why_when_done(Scenario::SlowBurn, false, true);
    assert!(
        why.contains("» completed while error rate FAILs (u undoes it): "),
        "{why}"
    );
    // Watch mode has no undo to offer.
    let why = why_when_done(Scenario::SlowBurn, true, true);
    assert!(
        why.contains("» completed while error rate FAILs: ") && !why.contains("undoes"),
        "{why}"
    );
    // A healthy canary completes with nothing to add.
    let why = why_when_done(Scenario::Healthy, false, false);
    assert!(
        why.contains("» completed: v1.2.3 serves 100% of traffic"),
        "{why}"
    );
}

#[test]
fn slow_burn_ticket_is_never_cut_at_80_columns() {
    let mut h = Harness::new(Scenario::SlowBurn, false);
    h.advance(20);
    let screen = small("scenario_slow_burn_alerting", &h);
    let budget = line_with(&screen, "availability 99.95%");
    assert!(budget.contains("12.1% left TICKET"), "{screen}");
    let mut h = Harness::new(Scenario::SlowBurn, false);
    h.advance(10);
    pause_now(&mut h);
    h.advance(4);
    let screen = small("scenario_slow_burn_paused", &h);
    assert!(
        line_with(&screen, "availability").contains("TICKET"),
        "{screen}"
    );
}

#[test]
fn mild_latency_held_and_paused() {
    let mut h = Harness::new(Scenario::MildLatency, false);
    h.advance(120);
    let screen = small("scenario_mild_latency_held", &h);
    assert!(screen.contains("held — no ETA"), "{screen}");
    let mut h = Harness::new(Scenario::MildLatency, false);
    h.advance(10);
    pause_now(&mut h);
    h.advance(4);
    small("scenario_mild_latency_paused", &h);
}

#[test]
fn an_slo_without_data_is_unknown_not_infinite() {
    use rollout_console::domain::slo::SloMeasurement;
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(20);
    // The query answered, with nothing in it (e.g. a renamed metric).
    let slo = &mut h.model.current_mut().slos[0];
    slo.status = Some(slo.def.evaluate(&SloMeasurement {
        error_ratio: None,
        window_ratios: vec![("5m".into(), None), ("1h".into(), None)],
    }));
    for screen in [h.render(80, 24), h.render(160, 48)] {
        assert!(
            !screen.contains('∞') && !screen.contains("never"),
            "{screen}"
        );
        assert!(screen.contains("budget left unknown"), "{screen}");
        assert!(screen.contains("time to empty unknown"), "{screen}");
        assert!(screen.contains("burn unknown"), "{screen}");
    }
    both_sizes("slo_no_data", &h);
}

#[test]
fn the_sparkline_covers_the_chosen_window() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    let spark = |screen: &str| line_with(screen, "›p95 latency").to_string();
    let five = h.render(80, 24);
    h.press(KeyCode::Char('w'));
    h.advance(2);
    let fifteen = small("sparkline_window_15m", &h);
    assert!(
        line_with(&fifteen, "Metric").contains("Canary 15m"),
        "{fifteen}"
    );
    // 2 minutes of canary in a 15-minute column fill its right-hand end only.
    assert_ne!(spark(&five), spark(&fifteen), "{five}\n{fifteen}");
    h.press(KeyCode::Char('w'));
    h.advance(2);
    let hour = h.render(80, 24);
    assert!(line_with(&hour, "Metric").contains("Canary 1h"), "{hour}");
    assert_ne!(spark(&fifteen), spark(&hour), "{fifteen}\n{hour}");
}

#[test]
fn detail_overlay_of_a_failing_metric() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    h.press(KeyCode::Enter);
    let screen = h.render(160, 48);
    // The whole reason and the query, which the table and the reason line cut.
    assert!(screen.contains("Queries sent (last poll)"), "{screen}");
    assert!(
        screen.contains("simulator buckets: sim:latency_buckets"),
        "{screen}"
    );
    both_sizes("detail_failing", &h);
    // Scrolled to the end at 80x24: the last error section is reachable.
    h.press(KeyCode::End);
    let screen = h.render(80, 24);
    assert!(screen.contains("Last error"), "{screen}");
    insta::assert_snapshot!("detail_failing_end_80x24", screen);
}

#[test]
fn events_overlay_shows_every_event_whole() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    h.press(KeyCode::Char('e'));
    let newest = h
        .model
        .current()
        .events
        .front()
        .expect("events")
        .text
        .clone();
    let screen = h.render(80, 24);
    // The newest event, whole though longer than a row: every word on screen, in order.
    let flat: String = screen
        .lines()
        .map(|l| l.trim_matches('"').trim_matches('│').trim())
        .collect::<Vec<_>>()
        .join(" ");
    let words: Vec<&str> = newest.split_whitespace().collect();
    assert!(words.iter().all(|w| flat.contains(w)), "{newest}\n{screen}");
    both_sizes("events", &h);
}

#[test]
fn help_names_every_key_of_the_table_and_every_disabled_action() {
    use rollout_console::app::keymap::KEYS;
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(6);
    h.press(KeyCode::Char('?'));
    let screen = h.render(160, 48);
    // A console with one rollout has no fleet list: its help leaves the list's keys out.
    for k in KEYS.iter().filter(|k| !k.fleet) {
        assert!(
            screen.contains(&format!(" {:<11}{}", k.key, k.what)),
            "{} missing from the help: {screen}",
            k.key
        );
    }
    assert!(
        screen.contains("READ-ONLY: p, P, space, r, t and u are disabled"),
        "{screen}"
    );
    insta::assert_snapshot!("help_read_only_80x24", h.render(80, 24));
}
