//! Key-driven tests: key events go through the keymap into `update`; we assert the model and the
//! effects. No terminal, no network, time pinned.

mod common;

use common::{Harness, t0};
use crossterm::event::{KeyCode, KeyModifiers};
use rollout_console::app::model::Overlay;
use rollout_console::app::{Effect, Msg, update};
use rollout_console::backend::{ActionError, ReadError};
use rollout_console::domain::action::ActionKind;
use rollout_console::domain::{RolloutState, Verdict};
use rollout_console::sim::Scenario;

fn act(
    effects: &[Effect],
) -> Option<(
    &rollout_console::backend::ActionRequest,
    &rollout_console::audit::AuditRecord,
)> {
    effects.iter().find_map(|e| match e {
        Effect::Act { request, receipt } => Some((request, &**receipt)),
        _ => None,
    })
}

#[test]
fn promote_needs_y_and_carries_the_step_the_user_saw() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    assert!(
        h.press(KeyCode::Char('p')).is_empty(),
        "a key alone never acts"
    );
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("promote opens a prompt")
    };
    assert_eq!((prompt.seen_step, prompt.to), (0, Some((1, 25))));
    assert!(
        !prompt.needs_override(),
        "all gates pass: a plain y will do"
    );
    let effects = h.press(KeyCode::Char('y'));
    let (request, receipt) = act(&effects).expect("y sends the promote");
    assert_eq!(
        (
            request.kind,
            request.expected_step,
            request.rollout.as_str()
        ),
        (ActionKind::Promote, Some(0), "checkout")
    );
    assert_eq!(request.actor, "alice@bastion");
    assert_eq!(receipt.verdicts.len(), 4);
    assert!(
        receipt
            .verdicts
            .iter()
            .all(|v| v.verdict == "pass" || v.verdict == "collecting"),
        "{:?}",
        receipt.verdicts
    );
    // The judge's figures travel with the receipt.
    let p95 = receipt.verdicts[0].sequential.as_ref().expect("figures");
    assert!(p95.requests.canary > 0.0 && p95.threshold > 5.0, "{p95:?}");
    assert_eq!(receipt.ssh_client.as_deref(), Some("10.0.0.7"));
    assert_eq!(h.model.overlay, Overlay::None);
}

#[test]
fn default_answer_is_no() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    for key in [
        KeyCode::Char('n'),
        KeyCode::Enter,
        KeyCode::Esc,
        KeyCode::Char('p'),
        KeyCode::Char(' '),
    ] {
        h.press(KeyCode::Char('p'));
        assert!(matches!(h.model.overlay, Overlay::Confirm(_)));
        let effects = h.press(key);
        assert!(effects.is_empty(), "{key:?} must not confirm");
        assert_eq!(h.model.overlay, Overlay::None, "{key:?} cancels");
    }
    assert!(
        h.events_text()
            .contains("promote cancelled; nothing was done")
    );
}

#[test]
fn read_only_keys_open_no_prompt_and_send_nothing() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    for key in [
        KeyCode::Char('p'),
        KeyCode::Char(' '),
        KeyCode::Char('r'),
        KeyCode::Char('y'),
    ] {
        let effects = h.press(key);
        assert!(act(&effects).is_none(), "{key:?}");
        assert_eq!(h.model.overlay, Overlay::None, "{key:?} opened something");
    }
    // Enter opens the metric's detail: a view, so it works in watch mode, and sends nothing.
    assert!(act(&h.press(KeyCode::Enter)).is_none());
    assert!(matches!(h.model.overlay, Overlay::Detail { .. }));
    h.press(KeyCode::Esc);
    let events = h.events_text();
    assert!(
        events.contains("read-only: promote is disabled in watch mode"),
        "{events}"
    );
    assert!(
        events.contains("read-only: roll back is disabled"),
        "{events}"
    );
    assert!(events.contains("read-only: pause is disabled"), "{events}");
}

#[test]
fn a_prompt_does_not_act_on_a_state_that_moved_under_it() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('p'));
    // The controller promotes on its own while the prompt is open (hold is 30s at speed 20).
    h.advance(40);
    assert_eq!(h.model.current().rollout.as_ref().map(|r| r.step), Some(1));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("prompt still open")
    };
    assert!(
        prompt
            .moved_on
            .as_deref()
            .is_some_and(|m| m.contains("now step 2")),
        "{:?}",
        prompt.moved_on
    );
    let effects = h.press(KeyCode::Char('y'));
    assert!(
        act(&effects).is_none(),
        "nothing is sent for a stale prompt"
    );
    assert!(
        h.events_text()
            .contains("the rollout moved on (now step 2 at 25%"),
        "{}",
        h.events_text()
    );
}

#[test]
fn a_second_press_while_in_flight_does_nothing_and_says_so() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('p'));
    assert!(act(&h.press(KeyCode::Char('y'))).is_some());
    for key in [KeyCode::Char('p'), KeyCode::Char('r'), KeyCode::Char(' ')] {
        assert!(h.press(key).is_empty());
        assert_eq!(h.model.overlay, Overlay::None);
    }
    assert!(
        h.events_text()
            .contains("promote is in flight; wait for its result"),
        "{}",
        h.events_text()
    );
}

#[test]
fn after_an_action_the_rollout_is_re_read_before_another_prompt() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('p'));
    let effects = h.press(KeyCode::Char('y'));
    let (request, _) = act(&effects).expect("sent");
    let step = request.expected_step.expect("the step seen");
    h.sim
        .rollout_mut()
        .promote(step, h.now)
        .expect("backend applies it");
    let done = Msg::ActionFinished {
        rollout: "checkout".into(),
        kind: ActionKind::Promote,
        at: h.now,
        result: Ok(h.sim.rollout().clone()),
        audit_error: None,
    };
    let effects = update(&mut h.model, done);
    let Some(Effect::FetchRollout { generation, .. }) = effects.first().cloned() else {
        panic!("a re-read follows: {effects:?}")
    };
    h.press(KeyCode::Char('p'));
    assert_eq!(
        h.model.overlay,
        Overlay::None,
        "no prompt before the re-read"
    );
    assert!(h.events_text().contains("re-reading the rollout"));
    // A late answer to an older poll is dropped; the answer to the re-read is taken.
    let old = Msg::RolloutFetched {
        generation: generation - 1,
        at: h.now,
        result: Err(ReadError::other("late")),
    };
    update(&mut h.model, old);
    assert_eq!(
        h.model.current().rollout_error,
        None,
        "the stale answer was dropped"
    );
    update(
        &mut h.model,
        Msg::RolloutFetched {
            generation,
            at: h.now,
            result: Ok(h.sim.rollout().clone()),
        },
    );
    h.press(KeyCode::Char('p'));
    assert!(matches!(h.model.overlay, Overlay::Confirm(_)));
}

#[test]
fn a_conflict_says_the_rollout_moved_on_and_never_retries() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('p'));
    h.press(KeyCode::Char('y'));
    let conflict = ActionError::Conflict {
        current_step: Some(2),
        message: "now step 3".into(),
    };
    let effects = update(
        &mut h.model,
        Msg::ActionFinished {
            rollout: "checkout".into(),
            kind: ActionKind::Promote,
            at: h.now,
            result: Err(conflict),
            audit_error: None,
        },
    );
    assert!(
        effects
            .iter()
            .all(|e| matches!(e, Effect::FetchRollout { .. })),
        "only a refresh: {effects:?}"
    );
    assert!(
        h.events_text()
            .contains("the rollout moved on (now step 3); nothing was done"),
        "{}",
        h.events_text()
    );
    let unknown = ActionError::Unknown("connection reset".into());
    update(
        &mut h.model,
        Msg::ActionFinished {
            rollout: "checkout".into(),
            kind: ActionKind::Rollback,
            at: h.now,
            result: Err(unknown),
            audit_error: Some("disk full".into()),
        },
    );
    let events = h.events_text();
    assert!(
        events.contains("outcome UNKNOWN until the next read"),
        "{events}"
    );
    assert!(
        events.contains("AUDIT LOG WRITE FAILED: disk full"),
        "{events}"
    );
}

#[test]
fn failing_gate_needs_the_typed_name_and_a_reason() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    assert_eq!(h.model.current().panels[0].verdict(), Verdict::Fail);
    h.press(KeyCode::Char('p'));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("prompt")
    };
    assert!(prompt.needs_override());
    assert!(
        prompt.blockers[0].starts_with("p95 latency: FAIL"),
        "{:?}",
        prompt.blockers
    );
    // `y` is just a character here: typing, not confirming.
    h.type_text("y");
    assert!(act(&h.press(KeyCode::Enter)).is_none());
    h.press(KeyCode::Backspace);
    h.type_text("checkout");
    let effects = h.press(KeyCode::Enter);
    assert!(act(&effects).is_none(), "a reason is required too");
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("still open")
    };
    assert!(
        prompt
            .error
            .as_deref()
            .is_some_and(|e| e.contains("reason"))
    );
    h.press(KeyCode::Tab);
    h.type_text("known slow path, fix in v1.2.4");
    let effects = h.press(KeyCode::Enter);
    let (request, receipt) = act(&effects).expect("override sends");
    assert_eq!(request.reason, "known slow path, fix in v1.2.4");
    assert_eq!(
        receipt.override_reason.as_deref(),
        Some("known slow path, fix in v1.2.4")
    );
    assert!(
        receipt
            .verdicts
            .iter()
            .any(|v| v.metric == "p95 latency" && v.verdict == "fail")
    );
    assert!(h.events_text().contains("OVERRIDE: known slow path"));
}

#[test]
fn rollback_is_one_y_and_pause_toggles_with_state() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('r'));
    let (request, receipt) = {
        let effects = h.press(KeyCode::Char('y'));
        let (r, rc) = act(&effects).expect("rollback sent");
        (r.clone(), rc.clone())
    };
    assert_eq!(
        (request.kind, receipt.to_weight),
        (ActionKind::Rollback, Some(0))
    );

    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char(' '));
    let effects = h.press(KeyCode::Char('y'));
    assert_eq!(act(&effects).map(|(r, _)| r.kind), Some(ActionKind::Pause));
    let step = h.sim.rollout().step;
    h.sim
        .rollout_mut()
        .pause(step, "alice@bastion", h.now)
        .expect("paused");
    let reread = update(
        &mut h.model,
        Msg::ActionFinished {
            rollout: "checkout".into(),
            kind: ActionKind::Pause,
            at: h.now,
            result: Ok(h.sim.rollout().clone()),
            audit_error: None,
        },
    );
    h.answer(reread);
    assert_eq!(
        h.model.current().rollout.as_ref().map(|r| r.state),
        Some(RolloutState::Paused)
    );
    h.press(KeyCode::Char(' '));
    let effects = h.press(KeyCode::Char('y'));
    assert_eq!(act(&effects).map(|(r, _)| r.kind), Some(ActionKind::Resume));
}

#[test]
fn nothing_to_do_on_a_finished_rollout() {
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    h.advance(120);
    assert_eq!(
        h.model.current().rollout.as_ref().map(|r| r.state),
        Some(RolloutState::RolledBack)
    );
    h.press(KeyCode::Char('r'));
    assert_eq!(h.model.overlay, Overlay::None);
    assert!(
        h.events_text()
            .contains("the rollout is ROLLED BACK; there is nothing to roll back")
    );
}

/// Counters are read a poll step behind: the count at the first poll after the rollout ended
/// misses its last step, so one more is asked, and then no more.
#[test]
fn a_finished_rollout_is_counted_once_more_then_no_more() {
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    let ended = |h: &Harness| {
        h.model
            .current()
            .rollout
            .as_ref()
            .is_some_and(|r| r.state.is_terminal())
    };
    // (ended at the last count, counted to the end) of every panel with counters, at each
    // metrics poll from the one that first saw the rollout ended.
    let flags = |h: &Harness| -> Vec<(bool, bool)> {
        h.model
            .current()
            .panels
            .iter()
            .filter(|p| p.counters.is_some())
            .map(|p| (p.ended_at_last_count, p.counted_to_the_end))
            .collect()
    };
    let mut seen = Vec::new();
    let mut asked = h.model.current().polls.metrics_asked;
    while seen.len() < 3 {
        h.advance(1);
        assert!(h.now < t0() + chrono::Duration::seconds(600), "{seen:?}");
        let now_asked = h.model.current().polls.metrics_asked;
        if now_asked != asked && ended(&h) && flags(&h).iter().any(|(e, _)| *e) {
            seen.push(flags(&h));
        }
        asked = now_asked;
    }
    assert!(!seen[0].is_empty(), "the demo's metrics have counters");
    assert!(seen[0].iter().all(|f| *f == (true, false)), "{seen:?}");
    assert!(
        seen[1..].iter().flatten().all(|f| *f == (true, true)),
        "{seen:?}"
    );
}

#[test]
fn help_window_focus_and_quit() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.press(KeyCode::Char('?'));
    assert_eq!(h.model.overlay, Overlay::Help);
    h.press(KeyCode::Char('p'));
    assert_eq!(
        h.model.overlay,
        Overlay::Help,
        "action keys are inert under help"
    );
    h.press(KeyCode::Esc);
    assert_eq!(h.model.overlay, Overlay::None);
    let effects = h.press(KeyCode::Char('w'));
    assert!(
        matches!(effects.as_slice(), [Effect::FetchMetrics { request, .. }] if request.lookback.as_secs() == 900)
    );
    h.press(KeyCode::Char('j'));
    h.press(KeyCode::Down);
    assert_eq!(h.model.current().focus, 2);
    h.press(KeyCode::Char('k'));
    h.press(KeyCode::BackTab);
    h.press(KeyCode::Up);
    assert_eq!(h.model.current().focus, 3, "wraps around");
    h.press_with(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(h.model.quit);
}

#[test]
fn a_failing_query_is_no_data_then_stale_never_its_old_pass() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.model.current_mut().focus = 1;
    h.advance(10);
    assert_eq!(h.model.current().panels[1].verdict(), Verdict::Pass);
    // The source starts failing: a broken query for p99.
    h.model.current_mut().panels[1].query = "sim:nonsense".into();
    h.advance(2);
    assert_eq!(h.model.current().panels[1].verdict(), Verdict::NoData);
    assert!(
        h.events_text()
            .contains("p99 latency: the simulator does not know the query")
    );
    h.advance(8);
    let screen = h.render(80, 24);
    assert!(screen.contains("NO DATA STALE"), "{screen}");
    assert!(screen.contains("STALE for"), "{screen}");
    // It recovers by itself when the source comes back.
    h.model.current_mut().panels[1].query = "sim:p99".into();
    h.advance(2);
    assert_eq!(h.model.current().panels[1].verdict(), Verdict::Pass);
    assert!(h.events_text().contains("p99 latency: query answers again"));
}

#[test]
fn a_repeated_metrics_warning_is_reported_once() {
    use rollout_console::metrics::FetchResult;
    let mut h = Harness::new(Scenario::Healthy, false);
    let warn = |h: &mut Harness, warnings: Vec<String>| {
        let generation = h.model.current().polls.metrics_generation;
        let result = FetchResult {
            warnings,
            ..FetchResult::default()
        };
        update(
            &mut h.model,
            Msg::MetricsFetched {
                generation,
                at: h.now,
                result,
            },
        );
    };
    let w = "PromQL info: metric might not be a counter".to_string();
    warn(&mut h, vec![w.clone()]);
    warn(&mut h, vec![w.clone()]);
    warn(&mut h, vec![]);
    warn(&mut h, vec![w.clone()]);
    assert_eq!(
        h.events_text()
            .matches("metrics warning: PromQL info")
            .count(),
        2,
        "{}",
        h.events_text()
    );
}

#[test]
fn actions_the_backend_denies_are_disabled_with_the_reason() {
    use rollout_console::domain::action::Permissions;
    let mut h = Harness::new(Scenario::Healthy, false);
    assert!(
        h.pending
            .iter()
            .any(|e| matches!(e, Effect::FetchPermissions { name } if name == "checkout")),
        "permissions are asked once at start: {:?}",
        h.pending
    );
    h.advance(10);
    let why = "RBAC: alice cannot patch rollouts/status in namespace shop".to_string();
    update(
        &mut h.model,
        Msg::PermissionsFetched {
            rollout: "checkout".into(),
            result: Ok(Permissions {
                denied: vec![(ActionKind::Promote, why.clone())],
            }),
        },
    );
    assert!(h.press(KeyCode::Char('p')).is_empty());
    assert_eq!(
        h.model.overlay,
        Overlay::None,
        "no prompt for a forbidden action"
    );
    assert!(
        h.events_text()
            .contains(&format!("promote is not allowed for you: {why}")),
        "{}",
        h.events_text()
    );
    let footer: Vec<String> = rollout_console::app::keymap::footer_keys(&h.model)
        .into_iter()
        .map(|(k, t)| format!("{k} {t}"))
        .collect();
    assert!(
        footer.contains(&"p promote (not allowed)".to_string()),
        "{footer:?}"
    );
    // Rollback is still offered.
    h.press(KeyCode::Char('r'));
    assert!(matches!(h.model.overlay, Overlay::Confirm(_)));
}

/// Applies a confirmed action to the simulator as its backend would, and reports it back.
fn run_on_sim(h: &mut Harness, effects: &[Effect]) -> rollout_console::domain::Rollout {
    let (request, _) = act(effects).expect("an action was sent");
    let result = rollout_console::sim::backend::apply(&mut h.sim, request, false, h.now);
    let rollout = result.clone().expect("the simulator applies it");
    let more = update(
        &mut h.model,
        Msg::ActionFinished {
            rollout: "checkout".into(),
            kind: request.kind,
            at: h.now,
            result,
            audit_error: None,
        },
    );
    h.answer(more);
    rollout
}

#[test]
fn capital_p_promotes_fully_and_the_receipt_says_deployment_complete() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('P'));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("P opens a prompt")
    };
    assert_eq!(
        (prompt.action, prompt.seen_step, prompt.to),
        (ActionKind::PromoteFull, 0, Some((3, 100)))
    );
    let effects = h.press(KeyCode::Char('y'));
    let (request, receipt) = act(&effects).expect("y sends it");
    assert_eq!(
        (request.kind, request.expected_step),
        (ActionKind::PromoteFull, Some(0))
    );
    assert_eq!(
        (receipt.action.as_str(), receipt.operation.as_str()),
        ("promote_full", "deployment_complete")
    );
    let after = run_on_sim(&mut h, &effects);
    assert_eq!(
        (after.state, after.canary_weight),
        (RolloutState::Completed, 100)
    );
}

#[test]
fn retry_is_offered_only_after_an_abort_and_restarts_at_the_first_step() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    assert!(h.press(KeyCode::Char('t')).is_empty());
    assert_eq!(h.model.overlay, Overlay::None, "nothing to retry yet");
    assert!(
        h.events_text()
            .contains("retry is for an aborted or failed rollout"),
        "{}",
        h.events_text()
    );
    h.press(KeyCode::Char('r'));
    let effects = h.press(KeyCode::Char('y'));
    assert_eq!(run_on_sim(&mut h, &effects).state, RolloutState::RolledBack);
    let footer: Vec<String> = rollout_console::app::keymap::footer_keys(&h.model)
        .into_iter()
        .map(|(k, t)| format!("{k} {t}"))
        .collect();
    assert!(footer.contains(&"t retry".to_string()), "{footer:?}");
    assert!(
        !footer.iter().any(|k| k.starts_with("p ")),
        "no promote after an abort: {footer:?}"
    );
    h.press(KeyCode::Char('t'));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("t opens a prompt after an abort: {}", h.events_text())
    };
    assert_eq!(prompt.to, Some((0, 5)));
    let effects = h.press(KeyCode::Char('y'));
    let (request, receipt) = act(&effects).expect("sent");
    assert_eq!(request.kind, ActionKind::Retry);
    assert_eq!(receipt.operation, "rollout_retried");
    let after = run_on_sim(&mut h, &effects);
    assert_eq!(
        (after.state, after.step, after.canary_weight),
        (RolloutState::Progressing, 0, 5)
    );
}

#[test]
fn an_action_the_backend_lacks_is_refused_naming_the_backend() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    assert!(h.press(KeyCode::Char('u')).is_empty());
    assert_eq!(h.model.overlay, Overlay::None);
    assert!(
        h.events_text()
            .contains("this backend cannot undo (simulator (test))"),
        "{}",
        h.events_text()
    );
    // A backend with the basic four only (e.g. a command backend without promote_full).
    h.model.actions = ActionKind::BASIC.to_vec();
    assert!(h.press(KeyCode::Char('P')).is_empty());
    assert_eq!(h.model.overlay, Overlay::None);
    let footer = rollout_console::app::keymap::footer_keys(&h.model);
    assert!(!footer.iter().any(|(k, _)| *k == "P"), "{footer:?}");
}

#[test]
fn analysis_results_become_events_and_the_reason_on_screen() {
    use rollout_console::domain::{AnalysisPhase, AnalysisResult};
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(4);
    let result = |phase, value: Option<&str>, message: Option<&str>| AnalysisResult {
        run: "checkout-7b9f4c6d5-2".into(),
        metric: "success-rate".into(),
        phase,
        value: value.map(str::to_string),
        message: message.map(str::to_string),
        at: None,
    };
    h.sim.rollout_mut().analysis = vec![result(AnalysisPhase::Running, None, None)];
    h.advance(2);
    assert!(
        h.events_text()
            .contains("analysis success-rate running (checkout-7b9f4c6d5-2)"),
        "{}",
        h.events_text()
    );
    let failed = result(
        AnalysisPhase::Failed,
        Some("[0.91]"),
        Some("metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)"),
    );
    h.sim.rollout_mut().analysis = vec![failed];
    h.advance(2);
    h.advance(2);
    let text = h.events_text();
    assert_eq!(
        text.matches("analysis success-rate FAILED value [0.91]: metric")
            .count(),
        1,
        "said once, when it changed:\n{text}"
    );
    let (tone, why) = rollout_console::app::explain::why(&h.model);
    assert_eq!(tone, rollout_console::app::explain::Tone::Bad);
    assert!(
        why.starts_with("analysis success-rate FAILED (value [0.91])"),
        "{why}"
    );
    let screen = h.render(160, 48);
    assert!(screen.contains("✗ success-rate FAILED [0.91]"), "{screen}");
}

#[test]
fn without_configured_selectors_the_tracks_come_from_the_pod_template_hashes() {
    use rollout_console::app::model::PodHashTracks;
    let mut h = Harness::new(Scenario::Healthy, false);
    h.model.current_mut().pod_hash_tracks = Some(PodHashTracks {
        label: "rollouts_pod_template_hash".into(),
        service: r#"job="checkout""#.into(),
    });
    let tracks = |h: &mut Harness| {
        // A new chart window asks for metrics at once.
        let effects = update(&mut h.model, Msg::CycleWindow);
        match effects.first() {
            Some(Effect::FetchMetrics { request, .. }) => request.tracks.clone(),
            other => panic!("a metrics fetch: {other:?}"),
        }
    };
    let t = tracks(&mut h).expect("the simulator reports both hashes");
    assert_eq!(
        t.baseline,
        r#"job="checkout", rollouts_pod_template_hash="5f7c9d6b8""#
    );
    assert_eq!(
        t.canary,
        r#"job="checkout", rollouts_pod_template_hash="7b9f4c6d5""#
    );
    // A hash is a value: quoted and escaped, never spliced in raw.
    h.sim.rollout_mut().canary_hash = Some(r#"x", job=~".+"#.into());
    h.advance(2);
    assert_eq!(
        tracks(&mut h).expect("known").canary,
        r#"job="checkout", rollouts_pod_template_hash="x\", job=~\".+""#
    );
    // Unknown hashes: no override, so the source says it is waiting rather than guessing.
    h.sim.rollout_mut().canary_hash = None;
    h.advance(2);
    assert_eq!(tracks(&mut h), None);
    // Configured selectors (no pod-hash mode): never overridden.
    h.model.current_mut().pod_hash_tracks = None;
    assert_eq!(tracks(&mut h), None);
}

#[test]
fn a_watched_change_re_reads_the_rollout_at_once() {
    let mut h = Harness::new(Scenario::Healthy, false);
    assert_eq!(
        h.pending
            .iter()
            .filter(|e| matches!(e, Effect::WatchRollout { name } if name == "checkout"))
            .count(),
        1,
        "the backend is asked to watch once: {:?}",
        h.pending
    );
    h.advance(10);
    assert!(
        !h.pending
            .iter()
            .skip(2)
            .any(|e| matches!(e, Effect::WatchRollout { .. })),
        "only once: {:?}",
        h.pending
    );
    let before = h.model.current().polls.rollout_generation;
    let effects = update(&mut h.model, Msg::RolloutChanged("checkout".into()));
    assert!(
        matches!(effects.as_slice(), [Effect::FetchRollout { generation, .. }] if *generation > before),
        "{effects:?}"
    );
}

#[test]
fn undo_names_what_it_restores_and_sends_the_step_seen() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.model.actions = ActionKind::ALL.to_vec();
    h.sim.rollout_mut().undo_to = Some("revision 30 (green)".into());
    h.advance(4);
    h.press(KeyCode::Char('u'));
    assert!(matches!(h.model.overlay, Overlay::Confirm(_)));
    let screen = h.render(80, 24);
    assert!(
        screen.contains("Put revision 30 (green)'s pod template back"),
        "{screen}"
    );
    let effects = h.press(KeyCode::Char('y'));
    let (request, receipt) = act(&effects).expect("sent");
    assert_eq!(
        (request.kind, request.expected_step),
        (ActionKind::Undo, Some(0))
    );
    assert_eq!(
        (receipt.action.as_str(), receipt.operation.as_str()),
        ("undo", "rollback_executed")
    );
}

#[test]
fn enter_opens_the_selected_metrics_detail_which_scrolls_and_closes() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(20);
    // A short terminal: the detail is longer than the screen.
    update(&mut h.model, Msg::Resize(80, 16));
    h.press(KeyCode::Char('j'));
    assert!(h.press(KeyCode::Enter).is_empty());
    assert_eq!(
        h.model.overlay,
        Overlay::Detail {
            metric: 1,
            scroll: 0
        }
    );
    h.press(KeyCode::Char('j'));
    h.press(KeyCode::Down);
    h.press(KeyCode::Char('k'));
    assert_eq!(
        h.model.overlay,
        Overlay::Detail {
            metric: 1,
            scroll: 1
        }
    );
    h.press(KeyCode::Up);
    h.press(KeyCode::Up);
    assert!(matches!(h.model.overlay, Overlay::Detail { scroll: 0, .. }));
    // Action keys do nothing here: the detail is for reading.
    assert!(h.press(KeyCode::Char('p')).is_empty());
    assert!(h.press(KeyCode::Char('r')).is_empty());
    assert!(matches!(h.model.overlay, Overlay::Detail { .. }));
    assert_eq!(
        h.model.current().focus,
        1,
        "scrolling does not move the selection"
    );
    // End shows the last page, and the first key back up moves the view (no scrolling into
    // emptiness to climb back out of).
    h.press(KeyCode::End);
    let Overlay::Detail { scroll: last, .. } = h.model.overlay else {
        panic!("still open")
    };
    assert!(last > 0 && last < 60, "{last}");
    h.press(KeyCode::PageDown);
    h.press(KeyCode::Char('k'));
    assert!(matches!(h.model.overlay, Overlay::Detail { scroll, .. } if scroll == last - 1));
    h.press(KeyCode::Home);
    h.press(KeyCode::Esc);
    assert_eq!(h.model.overlay, Overlay::None);
    h.press(KeyCode::Enter);
    h.press(KeyCode::Enter);
    assert_eq!(h.model.overlay, Overlay::None, "Enter closes it too");
}

#[test]
fn the_detail_keeps_the_queries_each_poll_sent() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(4);
    // The simulator answers by name: nothing is rendered, and the detail says so.
    assert_eq!(
        h.model.current().panels[0].sent_queries,
        vec![
            ("simulator series".to_string(), "sim:p95".to_string()),
            (
                "simulator buckets".to_string(),
                "sim:latency_buckets".to_string()
            ),
        ]
    );
}

#[test]
fn queries_are_rendered_per_track_as_prometheus_gets_them() {
    use rollout_console::app::model::MetricPanel;
    use rollout_console::domain::MetricDef;
    use rollout_console::metrics::source::{NO_TRACKS_YET, Selectors};
    use rollout_console::metrics::{Counters, Tracks};
    let mut p = MetricPanel::new(
        MetricDef {
            name: "error rate".into(),
            unit: rollout_console::domain::Unit::Ratio,
            gate: Default::default(),
        },
        r#"sum(rate(errors{$selector}[$window])) / sum(rate(requests{$selector, rollout="$rollout"}[$window]))"#.into(),
    );
    p.window = Some(std::time::Duration::from_secs(120));
    p.counters = Some(Counters::Ratio {
        errors: "errors_total{$selector}".into(),
        total: "requests_total{$selector}".into(),
    });
    let sel = Selectors {
        baseline: r#"job="checkout", track="baseline""#.into(),
        canary: r#"job="checkout", track="canary""#.into(),
        service: r#"job="checkout""#.into(),
        rollout: "checkout".into(),
    };
    let sent = p.rendered_queries(Some(&sel), None);
    assert_eq!(
        sent[1],
        (
            "canary".to_string(),
            r#"sum(rate(errors{job="checkout", track="canary"}[2m])) / sum(rate(requests{job="checkout", track="canary", rollout="checkout"}[2m]))"#.to_string()
        )
    );
    assert_eq!(
        sent[2],
        (
            "baseline errors".to_string(),
            r#"errors_total{job="checkout", track="baseline"}"#.to_string()
        )
    );
    assert_eq!(sent.len(), 6, "{sent:?}");
    // The pod-hash tracks of this poll win over the configured ones.
    let tracks = Tracks {
        baseline: r#"hash="a""#.into(),
        canary: r#"hash="b""#.into(),
    };
    let sent = p.rendered_queries(Some(&sel), Some(&tracks));
    assert!(
        sent[5].1.contains(r#"requests_total{hash="b"}"#),
        "{sent:?}"
    );
    // No selector yet: said, not sent.
    let none = Selectors {
        baseline: String::new(),
        canary: String::new(),
        ..sel
    };
    let sent = p.rendered_queries(Some(&none), None);
    assert_eq!(sent[0].1, format!("(not sent: {NO_TRACKS_YET})"));
}

#[test]
fn e_opens_the_whole_event_log_which_scrolls_by_event() {
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    for i in 0..20 {
        update(
            &mut h.model,
            Msg::Notice(
                rollout_console::app::model::EventLevel::Info,
                format!("notice {i}"),
            ),
        );
    }
    let n = h.model.current().events.len();
    assert!(n > 12, "enough events to page: {n}");
    h.press(KeyCode::Char('e'));
    assert_eq!(h.model.overlay, Overlay::Events { scroll: 0 });
    h.press(KeyCode::PageDown);
    assert_eq!(h.model.overlay, Overlay::Events { scroll: 10 });
    h.press(KeyCode::Char('k'));
    assert_eq!(h.model.overlay, Overlay::Events { scroll: 9 });
    h.press(KeyCode::End);
    let Overlay::Events { scroll: last } = h.model.overlay else {
        panic!("still open")
    };
    assert!(
        last > 10 && last < n,
        "the last page starts at {last} of {n}"
    );
    h.press(KeyCode::Char('j'));
    assert_eq!(
        h.model.overlay,
        Overlay::Events { scroll: last },
        "stops at the last page (the oldest event on screen)"
    );
    h.press(KeyCode::Char('k'));
    assert_eq!(
        h.model.overlay,
        Overlay::Events { scroll: last - 1 },
        "the first key back up moves the view"
    );
    h.press(KeyCode::Home);
    h.press(KeyCode::PageUp);
    assert_eq!(h.model.overlay, Overlay::Events { scroll: 0 });
    h.press(KeyCode::Esc);
    assert_eq!(h.model.overlay, Overlay::None);
}

#[test]
fn every_key_in_the_table_does_something_and_help_lists_them_all() {
    use clap::CommandFactory;
    use crossterm::event::KeyEvent;
    use rollout_console::app::keymap::KEYS;
    use rollout_console::tui::keys::map_key;
    let h = Harness::new(Scenario::Healthy, false);
    for k in KEYS {
        let first = k.key.split_whitespace().next().expect("a key");
        let code = match first {
            "space" => KeyCode::Char(' '),
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "S-tab" => KeyCode::BackTab,
            "PgUp" => KeyCode::PageUp,
            c => KeyCode::Char(c.chars().next().expect("a char")),
        };
        // Scrolling keys work in the views they scroll.
        let mut model = h.model.clone();
        if code == KeyCode::PageUp {
            model.overlay = Overlay::Events { scroll: 0 };
        }
        if code == KeyCode::Esc {
            model.overlay = Overlay::Help;
        }
        assert!(
            map_key(&model, KeyEvent::new(code, KeyModifiers::NONE)).is_some(),
            "{} is in the table but does nothing",
            k.key
        );
    }
    let help = rollout_console::cli::Cli::command()
        .render_long_help()
        .to_string();
    for k in KEYS {
        assert!(
            help.contains(&format!("  {:<11}{}", k.key, k.what)),
            "--help lacks {}: {help}",
            k.key
        );
    }
    assert!(
        help.contains("--read-only disables p, P, space, r, t and u"),
        "{help}"
    );
}

/// Sends `key` + `y`, answers the action with an UNKNOWN outcome (a 500), then lets the next read
/// come from the simulator. Returns the first receipt and the follow-up one.
fn unknown_then_read(
    h: &mut Harness,
    key: KeyCode,
    apply: bool,
) -> (
    rollout_console::audit::AuditRecord,
    rollout_console::audit::AuditRecord,
) {
    h.press(key);
    let effects = h.press(KeyCode::Char('y'));
    let (request, receipt) = act(&effects).expect("sent");
    let (request, first) = (request.clone(), receipt.clone());
    if apply {
        rollout_console::sim::backend::apply(&mut h.sim, &request, false, h.now)
            .expect("the simulator applies it");
    }
    let more = update(
        &mut h.model,
        Msg::ActionFinished {
            rollout: "checkout".into(),
            kind: request.kind,
            at: h.now,
            result: Err(ActionError::Unknown("HTTP 500 from the deploy API".into())),
            audit_error: None,
        },
    );
    let (level, status) = h
        .model
        .current()
        .action_status
        .clone()
        .expect("a status line");
    assert_eq!(level, rollout_console::app::model::EventLevel::Bad);
    assert!(status.contains("outcome UNKNOWN"), "{status}");
    // The re-read that follows the action answers from the simulator.
    h.answer(more);
    let follow_up = h
        .pending
        .iter()
        .find_map(|e| match e {
            Effect::Audit { receipt } => Some((**receipt).clone()),
            _ => None,
        })
        .expect("a follow-up receipt");
    (first, follow_up)
}

#[test]
fn an_unknown_pause_that_did_not_apply_is_resolved_by_the_next_read() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    let (first, follow_up) = unknown_then_read(&mut h, KeyCode::Char(' '), false);
    let said = "pause did not take effect: still PROGRESSING at step 1 (5%)";
    assert!(h.events_text().contains(said), "{}", h.events_text());
    let (_, status) = h.model.current().action_status.clone().expect("status");
    assert_eq!(status, said);
    assert!(h.render(80, 24).contains("pause did not take effect"));
    assert_eq!(follow_up.result, "not_applied");
    assert!(first.id.is_some());
    assert_eq!(
        follow_up.resolves, first.id,
        "it points at the first receipt"
    );
    assert_ne!(follow_up.id, first.id);
    assert_eq!(follow_up.operation, "rollout_paused");
    assert!(
        follow_up
            .message
            .as_deref()
            .is_some_and(|m| m.contains(said)),
        "{:?}",
        follow_up.message
    );
    // Decided once: a later read writes nothing more.
    h.pending.clear();
    h.advance(4);
    assert!(
        !h.pending.iter().any(|e| matches!(e, Effect::Audit { .. })),
        "{:?}",
        h.pending
    );
}

#[test]
fn an_unknown_pause_that_applied_is_confirmed_by_the_next_read() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    let (first, follow_up) = unknown_then_read(&mut h, KeyCode::Char(' '), true);
    let said = "pause took effect: PAUSED at step 1 (5%)";
    assert!(h.events_text().contains(said), "{}", h.events_text());
    assert_eq!(
        h.model
            .current()
            .action_status
            .clone()
            .map(|s| s.1)
            .as_deref(),
        Some(said)
    );
    assert_eq!(
        (follow_up.result.as_str(), follow_up.resolves.clone()),
        ("confirmed", first.id.clone())
    );
}

#[test]
fn a_stale_prompt_names_the_step_seen_and_the_step_now_as_the_header_does() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char('p'));
    h.advance(40);
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("prompt still open")
    };
    let moved = prompt.moved_on.clone().expect("moved on");
    assert!(
        moved.contains("you saw step 1 (5%, PROGRESSING), now step 2 (25%, PROGRESSING)"),
        "{moved}"
    );
    let screen = h.render(80, 24);
    assert!(screen.contains("step 2/4 · 25%"), "{screen}");
    assert!(screen.contains("now step 2 (25%"), "{screen}");
}

#[test]
fn the_resume_prompt_says_the_hold_continues_not_restarts() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char(' '));
    let effects = h.press(KeyCode::Char('y'));
    run_on_sim(&mut h, &effects);
    h.advance(20);
    h.press(KeyCode::Char(' '));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("resume opens a prompt")
    };
    assert_eq!(prompt.action, ActionKind::Resume);
    let screen = h.render(80, 24);
    assert!(!screen.contains("restarts"), "{screen}");
    assert!(
        screen.contains("the hold continues where it stopped ("),
        "{screen}"
    );
}

/// Makes the next rollout read fail, as a backend that is down would.
fn fail_reads(h: &mut Harness, why: &str) {
    let effects = update(&mut h.model, Msg::RolloutChanged("checkout".into()));
    let Some(Effect::FetchRollout { generation, .. }) = effects.first().cloned() else {
        panic!("a read: {effects:?}")
    };
    update(
        &mut h.model,
        Msg::RolloutFetched {
            generation,
            at: h.now,
            result: Err(ReadError::other(why)),
        },
    );
}

#[test]
fn rollback_is_possible_with_the_state_unknown_and_says_so() {
    let mut h = Harness::new(Scenario::ErrorSpike, false);
    h.advance(10);
    // The console started while the backend was down: nothing was ever read.
    h.model.current_mut().rollout = None;
    fail_reads(&mut h, "HTTP 503 from the deploy API");
    for key in [KeyCode::Char('p'), KeyCode::Char(' ')] {
        h.press(key);
        assert_eq!(h.model.overlay, Overlay::None, "{key:?}: only rollback");
    }
    assert!(h.press(KeyCode::Char('r')).is_empty(), "r alone never acts");
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!(
            "r opens a prompt with the state unknown: {}",
            h.events_text()
        )
    };
    assert_eq!(
        prompt
            .state_unknown
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("HTTP 503 from the deploy API")
    );
    let screen = h.render(80, 24);
    assert!(
        screen.contains("The rollout's state is unknown (last read failed: HTTP 503"),
        "{screen}"
    );
    assert!(screen.contains("Roll back anyway?"), "{screen}");
    let effects = h.press(KeyCode::Char('y'));
    let (request, receipt) = act(&effects).expect("y sends the rollback");
    assert_eq!(
        (request.kind, request.expected_step),
        (ActionKind::Rollback, None),
        "no step check: the step is unknown"
    );
    assert!(
        receipt
            .state_unknown
            .as_deref()
            .is_some_and(|s| s.contains("the last read failed (HTTP 503")),
        "{:?}",
        receipt.state_unknown
    );
    assert!(
        h.events_text()
            .contains("roll back sent by alice@bastion with the rollout's state unknown"),
        "{}",
        h.events_text()
    );
    // The simulator takes a rollback without a step, as the deploy API does.
    let rolled = run_on_sim(&mut h, &effects);
    assert_eq!(rolled.state, RolloutState::RolledBack);
}

#[test]
fn read_only_refuses_even_an_unknown_state_rollback() {
    let mut h = Harness::new(Scenario::Healthy, true);
    h.advance(10);
    fail_reads(&mut h, "connection refused");
    assert!(act(&h.press(KeyCode::Char('r'))).is_none());
    assert_eq!(h.model.overlay, Overlay::None);
    assert!(h.events_text().contains("read-only: roll back is disabled"));
}

#[test]
fn an_unknown_state_prompt_steps_aside_when_the_rollout_reads_again() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    fail_reads(&mut h, "timeout");
    h.press(KeyCode::Char('r'));
    assert!(matches!(&h.model.overlay, Overlay::Confirm(p) if p.state_unknown.is_some()));
    h.advance(2);
    let effects = h.press(KeyCode::Char('y'));
    assert!(act(&effects).is_none(), "decide again on the known state");
    assert!(
        h.events_text().contains("roll back was not sent"),
        "{}",
        h.events_text()
    );
}

#[test]
fn the_why_line_keeps_the_consoles_advice_apart_from_what_the_controller_did() {
    use rollout_console::app::explain::why;
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    h.advance(130);
    let (_, line) = why(&h.model);
    assert!(
        line.starts_with("console advises roll back: p95 latency"),
        "{line}"
    );
    assert!(h.render(80, 24).contains("» console advises roll back:"));
    // What the controller did is said as its own: a pause by a person.
    let mut h = Harness::new(Scenario::Healthy, false);
    h.advance(10);
    h.press(KeyCode::Char(' '));
    let effects = h.press(KeyCode::Char('y'));
    run_on_sim(&mut h, &effects);
    let (_, line) = why(&h.model);
    assert!(line.starts_with("paused by alice@bastion"), "{line}");
    assert!(!line.contains("console advises"), "{line}");
}

#[test]
fn a_fail_on_a_hold_metric_is_advice_to_hold_not_a_hold() {
    use rollout_console::app::explain::why;
    let mut h = Harness::new(Scenario::LatencyRegression, false);
    // Not critical: the judge's FAIL advises a hold rather than a rollback.
    h.model.current_mut().panels[0].critical = false;
    h.advance(130);
    let (_, line) = why(&h.model);
    assert!(
        line.starts_with("console advises hold: p95 latency"),
        "{line}"
    );
}

#[test]
fn a_rolled_back_canary_is_not_passed_because_a_hold_ended() {
    // error-spike, seed 3: the controller rolls back at 25% while p95 is still collecting; the
    // step's hold would have ended ~20 s later.
    let mut h = Harness::with_seed(Scenario::ErrorSpike, 3, false);
    h.advance(120);
    assert_eq!(
        h.sim.rollout().state,
        rollout_console::domain::RolloutState::RolledBack
    );
    for p in &h.model.current().panels {
        if let Some(r) = &p.sequential_result {
            assert!(
                !r.reason.starts_with("hold ended"),
                "{}: {}",
                p.def.name,
                r.reason
            );
            // Nor is a decision promised for it.
            assert!(
                !r.reason.contains("decision in"),
                "{}: {}",
                p.def.name,
                r.reason
            );
        }
    }
}
