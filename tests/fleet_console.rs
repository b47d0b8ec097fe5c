//! The fleet console end to end in `update`: a real `sim::Fleet` answers every effect (reads by
//! rollout name, metrics by `FetchRequest::rollout`, actions through the simulator's controller,
//! the backend's list), at a pinned clock. What is polled when and at which priority; an action
//! on the selected row with its prompt, its receipt and a stale-row 409; rank changes and a
//! rollout listed later as events.

mod common;

use chrono::{DateTime, Utc};
use common::{render_model, settings, t0};
use rollout_console::app::keymap::{Key, KeyPress, message_for};
use rollout_console::app::model::{FleetSelectors, Model, Overlay, RolloutTemplate};
use rollout_console::app::{Effect, Msg, update};
use rollout_console::backend::ActionError;
use rollout_console::domain::RolloutState;
use rollout_console::domain::action::ActionKind;
use rollout_console::metrics::Priority;
use rollout_console::setup::demo_panels as demo;
use rollout_console::sim::fleet::{plan, simulate};
use rollout_console::sim::{Fleet, SimOptions};

struct FleetHarness {
    model: Model,
    fleet: Fleet,
    now: DateTime<Utc>,
    /// Every effect `update` asked for, in order (answered or not).
    seen: Vec<Effect>,
    /// Actions not sent to the simulator yet.
    actions: Vec<Effect>,
    /// Names the backend lists beyond the fleet's members (a rollout that appears later).
    extra_listed: Vec<String>,
    /// Metrics polls are kept here unanswered while set (a slow whole read).
    hold_metrics: bool,
    held: Vec<Effect>,
}

impl FleetHarness {
    fn new(n: usize) -> Self {
        Self::with_selectors(n, None)
    }

    /// A fleet queried with `[fleet]` selectors (so its polls carry the fleet's grouping when
    /// they say `group_by`).
    fn with_selectors(n: usize, selectors: Option<FleetSelectors>) -> Self {
        let mut h = Self::unasked(n, selectors);
        h.tick();
        h
    }

    /// The fleet before its first tick: nothing asked yet.
    fn unasked(n: usize, selectors: Option<FleetSelectors>) -> Self {
        let base = SimOptions {
            seed: 7,
            ..SimOptions::default()
        };
        let sims = plan(n, base.seed)
            .iter()
            .map(|m| simulate(m, &base, t0()))
            .collect();
        let fleet = Fleet::from_simulators(sims);
        let template = RolloutTemplate {
            panels: demo::metric_panels(),
            slos: demo::slo_panels(),
            selectors,
        };
        let rollouts = fleet.names().map(|n| template.instantiate(n)).collect();
        let mut model = Model::new(
            settings(false),
            demo::metric_panels(),
            demo::slo_panels(),
            t0(),
        )
        .with_rollouts(rollouts);
        model.template = Some(template);
        model.actions = rollout_console::sim::backend::SIM_ACTIONS.to_vec();
        Self {
            model,
            fleet,
            now: t0(),
            seen: vec![],
            actions: vec![],
            extra_listed: vec![],
            hold_metrics: false,
            held: vec![],
        }
    }

    fn tick(&mut self) {
        let effects = update(&mut self.model, Msg::Tick(self.now));
        self.answer(effects);
    }

    /// Moves the clock in 2 s polls, the simulators with it.
    fn advance(&mut self, secs: i64) {
        let end = self.now + chrono::Duration::seconds(secs);
        while self.now < end {
            self.now = (self.now + chrono::Duration::seconds(2)).min(end);
            for (_, sim) in self.fleet.members() {
                sim.lock().expect("sim").advance_to(self.now);
            }
            self.tick();
        }
    }

    fn answer(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.seen.push(effect.clone());
            if self.hold_metrics && matches!(effect, Effect::FetchMetrics { .. }) {
                self.held.push(effect);
                continue;
            }
            let msg = match effect {
                Effect::FetchRollout { generation, name } => {
                    let result = match self.fleet.get(&name) {
                        Some(sim) => Ok(sim.lock().expect("sim").rollout().clone()),
                        None => Err(rollout_console::backend::ReadError::other(
                            "no such rollout",
                        )),
                    };
                    Msg::RolloutFetched {
                        generation,
                        at: self.now,
                        result,
                    }
                }
                Effect::FetchMetrics {
                    generation,
                    request,
                    ..
                } => {
                    let name = request
                        .rollout
                        .as_ref()
                        .expect("a fleet poll names its rollout");
                    let result = match self.fleet.get(&name.name) {
                        Some(sim) => rollout_console::sim::source::answer(
                            &mut sim.lock().expect("sim"),
                            &request,
                        ),
                        None => Default::default(),
                    };
                    Msg::MetricsFetched {
                        generation,
                        at: self.now,
                        result,
                    }
                }
                Effect::FetchFleet { generation } => {
                    let mut all: Vec<_> = self
                        .fleet
                        .members()
                        .map(|(_, sim)| sim.lock().expect("sim").rollout().clone())
                        .collect();
                    // A rollout listed later: a member's state under its own name.
                    for name in &self.extra_listed {
                        let mut late = all[0].clone();
                        late.name = name.clone();
                        all.push(late);
                    }
                    Msg::FleetFetched {
                        generation,
                        at: self.now,
                        result: Ok(all),
                    }
                }
                Effect::ListRollouts => {
                    let mut names: Vec<String> = self.fleet.names().map(str::to_string).collect();
                    names.extend(self.extra_listed.clone());
                    Msg::RolloutsListed { result: Ok(names) }
                }
                act @ Effect::Act { .. } => {
                    self.actions.push(act);
                    continue;
                }
                _ => continue,
            };
            let more = update(&mut self.model, msg);
            self.answer(more);
        }
    }

    /// Sends the oldest pending action to its member, as the runner would.
    fn run_action(&mut self) -> Msg {
        let Some(Effect::Act { request, .. }) =
            (!self.actions.is_empty()).then(|| self.actions.remove(0))
        else {
            panic!("no action pending")
        };
        let sim = self.fleet.get(&request.rollout).expect("a member");
        let result = rollout_console::sim::backend::apply(
            &mut sim.lock().expect("sim"),
            &request,
            false,
            self.now,
        );
        Msg::ActionFinished {
            rollout: request.rollout.clone(),
            kind: request.kind,
            at: self.now,
            result,
            audit_error: None,
        }
    }

    fn press(&mut self, key: Key) {
        if let Some(msg) = message_for(&self.model, KeyPress { key, ctrl: false }) {
            let effects = update(&mut self.model, msg);
            self.answer(effects);
        }
    }

    /// Selects the row of `name` with the filter, then clears the filter (the selection stays).
    fn select(&mut self, name: &str) {
        self.press(Key::Char('/'));
        for c in name.chars() {
            self.press(Key::Char(c));
        }
        self.press(Key::Enter);
        assert_eq!(self.selected(), name);
        // Move off and back so the choice is the user's, then drop the filter.
        self.press(Key::Char('j'));
        self.press(Key::Esc);
        assert_eq!(
            self.selected(),
            name,
            "clearing the filter keeps the selection"
        );
    }

    fn selected(&self) -> String {
        self.model.rollouts[self.model.fleet.selected].name.clone()
    }

    fn index(&self, name: &str) -> usize {
        self.model
            .rollouts
            .iter()
            .position(|r| r.name == name)
            .expect("followed")
    }

    fn fleet_events(&self) -> String {
        self.model
            .fleet_events
            .iter()
            .map(|e| e.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn drain(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.seen)
    }
}

/// `[fleet]` selectors grouped by the rollout label, read from recording rules or not.
fn grouped(recorded: bool) -> Option<FleetSelectors> {
    Some(FleetSelectors {
        service: r#"rollout="$rollout""#.into(),
        pod_hash_label: "rollouts_pod_template_hash".into(),
        group_by: Some("rollout".into()),
        recorded,
    })
}

fn metrics_polls(effects: &[Effect]) -> Vec<(String, Priority)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::FetchMetrics { request, .. } => Some((
                request
                    .rollout
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                request.priority,
            )),
            _ => None,
        })
        .collect()
}

fn rollout_reads(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::FetchRollout { .. }))
        .count()
}

#[test]
fn every_row_is_read_each_poll_its_metrics_slower_and_the_open_one_first() {
    let mut h = FleetHarness::new(8);
    let first = h.drain();
    assert_eq!(rollout_reads(&first), 8, "every rollout read at start");
    let polls = metrics_polls(&first);
    let mut asked: Vec<&str> = polls.iter().map(|(n, _)| n.as_str()).collect();
    asked.sort_unstable();
    asked.dedup();
    // Each once, when its read says since when to count: not also at the first tick, before
    // the read answered (a query per row wasted at start, superseded on arrival).
    assert_eq!(
        (asked.len(), polls.len()),
        (8, 8),
        "every rollout's metrics at start, once: {polls:?}"
    );
    assert!(
        polls.iter().all(|(_, p)| *p != Priority::Open),
        "nothing is on screen on the list: {polls:?}"
    );
    assert!(
        first.iter().any(|e| matches!(e, Effect::ListRollouts)),
        "the backend's list is asked"
    );
    // One poll later: every rollout read again, no row's metrics (they wait 3 intervals).
    h.advance(2);
    let next = h.drain();
    assert_eq!(rollout_reads(&next), 8);
    assert!(
        metrics_polls(&next).is_empty(),
        "{:?}",
        metrics_polls(&next)
    );
    // At 3× the interval, each at its slot in that step (they land on the next 2 s tick).
    h.advance(6);
    let third = metrics_polls(&h.drain());
    assert!(
        third.len() >= 6,
        "the running rows' metrics at 3× the interval: {third:?}"
    );
    // A row that needs a human goes before the rest in the query budget.
    let paused = h.index("catalog");
    assert_eq!(
        h.model.rollouts[paused].rollout.as_ref().map(|r| r.state),
        Some(RolloutState::Paused)
    );
    assert!(
        third.contains(&("catalog".into(), Priority::Attention)),
        "{third:?}"
    );
    assert!(
        third.contains(&("search".into(), Priority::Background)),
        "{third:?}"
    );
    // Open a rollout: its metrics every interval, first in the budget.
    h.select("search");
    h.advance(2);
    h.drain();
    h.press(Key::Enter);
    assert!(!h.model.fleet.shown);
    // Its screen asks at once (its answers are a row's, older than the interval).
    let opened = metrics_polls(&h.drain());
    assert_eq!(opened, [("search".to_string(), Priority::Open)]);
    h.advance(2);
    let open = metrics_polls(&h.drain());
    assert!(
        open.contains(&("search".into(), Priority::Open)),
        "{open:?}"
    );
    h.advance(2);
    let open = metrics_polls(&h.drain());
    assert!(
        open.contains(&("search".into(), Priority::Open)),
        "{open:?}"
    );
}

#[test]
fn an_action_key_on_the_list_prompts_for_the_selected_row_and_acts_on_it_alone() {
    let mut h = FleetHarness::new(8);
    h.advance(20);
    h.select("catalog");
    h.press(Key::Char(' '));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("a prompt: {:?}", h.model.overlay)
    };
    assert_eq!(
        prompt.action,
        ActionKind::Resume,
        "space resumes a paused row"
    );
    assert_eq!(prompt.rollout, "catalog");
    assert_eq!(prompt.index, h.index("catalog"));
    let screen = render_model(&h.model, 80, 24);
    assert!(
        screen.contains("catalog"),
        "the prompt names the row:\n{screen}"
    );
    let others: Vec<_> = h
        .fleet
        .members()
        .filter(|(n, _)| *n != "catalog")
        .map(|(n, s)| (n.to_string(), s.lock().expect("sim").rollout().clone()))
        .collect();
    h.press(Key::Char('y'));
    let Some(Effect::Act { request, receipt }) = h.actions.first().cloned() else {
        panic!("an action: {:?}", h.actions)
    };
    assert_eq!(request.rollout, "catalog");
    assert_eq!(request.kind, ActionKind::Resume);
    assert_eq!(receipt.rollout, "catalog");
    let done = h.run_action();
    let effects = update(&mut h.model, done);
    h.answer(effects);
    let catalog = &h.model.rollouts[h.index("catalog")];
    assert_eq!(
        catalog.rollout.as_ref().map(|r| r.state),
        Some(RolloutState::Progressing)
    );
    assert!(
        h.fleet_events().contains("catalog: resume done"),
        "the outcome is on the list:\n{}",
        h.fleet_events()
    );
    // No other rollout moved.
    for (name, before) in others {
        let sim = h.fleet.get(&name).expect("member");
        let now = sim.lock().expect("sim").rollout().clone();
        assert_eq!((now.step, now.state), (before.step, before.state), "{name}");
    }
}

#[test]
fn a_row_that_moved_on_before_the_action_arrived_gets_a_409_and_nothing_is_done() {
    let mut h = FleetHarness::new(8);
    h.advance(10);
    h.select("search");
    let seen = h.model.rollouts[h.index("search")]
        .rollout
        .clone()
        .expect("read");
    h.press(Key::Char('p'));
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("a prompt: {:?}", h.model.overlay)
    };
    // Promote has blockers while the judge collects: override it, as a user may.
    if prompt.needs_override() {
        for c in "search".chars() {
            h.press(Key::Char(c));
        }
        h.press(Key::Tab);
        for c in "hotfix".chars() {
            h.press(Key::Char(c));
        }
        h.press(Key::Enter);
    } else {
        h.press(Key::Char('y'));
    }
    assert_eq!(h.actions.len(), 1, "{:?}", h.model.overlay);
    // Someone else promotes it first, from another screen.
    {
        let sim = h.fleet.get("search").expect("member");
        let mut s = sim.lock().expect("sim");
        s.rollout_mut().promote(seen.step, h.now).expect("promotes");
    }
    let done = h.run_action();
    assert!(
        matches!(
            &done,
            Msg::ActionFinished {
                result: Err(ActionError::Conflict { .. }),
                ..
            }
        ),
        "{done:?}"
    );
    let effects = update(&mut h.model, done);
    assert!(
        matches!(effects.as_slice(), [Effect::FetchRollout { name, .. }] if name == "search"),
        "the row is re-read at once: {effects:?}"
    );
    h.answer(effects);
    let events = h.fleet_events();
    assert!(events.contains("search: promote"), "{events}");
    let sim = h.fleet.get("search").expect("member");
    assert_eq!(
        sim.lock().expect("sim").rollout().step,
        seen.step + 1,
        "promoted once, by the other person, not twice"
    );
    assert_eq!(
        h.model.rollouts[h.index("search")]
            .rollout
            .as_ref()
            .map(|r| r.step),
        Some(seen.step + 1),
        "the row shows the step as it is now"
    );
}

#[test]
fn a_prompt_on_a_row_is_not_voided_by_another_rows_read() {
    let mut h = FleetHarness::new(8);
    h.advance(10);
    h.select("catalog");
    h.press(Key::Char(' '));
    assert!(matches!(&h.model.overlay, Overlay::Confirm(p) if p.moved_on.is_none()));
    // Every other row moves on; the prompt's own row does not.
    h.advance(30);
    let Overlay::Confirm(prompt) = &h.model.overlay else {
        panic!("the prompt stays open")
    };
    assert!(prompt.moved_on.is_none(), "{:?}", prompt.moved_on);
}

#[test]
fn rank_changes_and_a_rollout_listed_later_are_events() {
    let mut h = FleetHarness::new(8);
    h.advance(60);
    let events = h.fleet_events();
    assert!(
        events.contains("now rollback advised (was progressing)"),
        "a regression turning bad is news on the list:\n{events}"
    );
    // A promotion is said as one, not as "progressing (was ready to promote)".
    assert!(events.contains(" promoted to step "), "{events}");
    let before = h.model.rollouts.len();
    h.extra_listed.push("late-arrival".into());
    // The list is asked again within a few row polls.
    h.advance(30);
    assert_eq!(h.model.rollouts.len(), before + 1);
    assert!(
        h.fleet_events().contains("new rollout: late-arrival"),
        "{}",
        h.fleet_events()
    );
    let screen = render_model(&h.model, 80, 24);
    assert!(screen.contains("late-arrival"), "{screen}");
    // It is read like the others (the simulator does not know it: its row says so).
    let i = h.index("late-arrival");
    assert!(h.model.rollouts[i].rollout_error.is_some());
}

#[test]
fn permissions_are_asked_per_rollout_when_selected_and_deny_only_that_one() {
    use rollout_console::domain::action::Permissions;
    let mut h = FleetHarness::new(8);
    let asked = |effects: &[Effect]| -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::FetchPermissions { name } => Some(name.clone()),
                _ => None,
            })
            .collect()
    };
    // The selection lands on the top row with the first derived rows: asked at the next poll.
    h.advance(2);
    let first = asked(&h.drain());
    assert_eq!(
        first.len(),
        1,
        "only the selected row's, not all 8: {first:?}"
    );
    h.select("catalog");
    h.advance(2);
    assert!(asked(&h.drain()).contains(&"catalog".to_string()));
    // Another namespace's RBAC: pause is denied on search only.
    let why = "no RBAC permission to patch rollouts in shop".to_string();
    update(
        &mut h.model,
        Msg::PermissionsFetched {
            rollout: "search".into(),
            result: Ok(Permissions {
                denied: vec![(ActionKind::Rollback, why.clone())],
            }),
        },
    );
    h.press(Key::Char('r'));
    assert!(
        matches!(&h.model.overlay, Overlay::Confirm(p) if p.rollout == "catalog"),
        "catalog may still be rolled back: {:?}",
        h.model.overlay
    );
    h.press(Key::Esc);
    h.select("search");
    h.press(Key::Char('r'));
    assert_eq!(h.model.overlay, Overlay::None, "no prompt on search");
    assert!(
        h.fleet_events().contains("search: ") && h.fleet_events().contains(&why),
        "{}",
        h.fleet_events()
    );
}

#[test]
fn a_finished_rollout_is_counted_to_its_end_then_no_more_until_it_moves_again() {
    let mut h = FleetHarness::with_selectors(
        8,
        // `recorded` is carried to every member's grouped read (what the source reads it from).
        grouped(true),
    );
    h.advance(300);
    let ended: Vec<usize> = (0..8)
        .filter(|&i| {
            let r = &h.model.rollouts[i];
            r.rollout.as_ref().is_some_and(|r| r.state.is_terminal())
        })
        .collect();
    assert!(!ended.is_empty(), "the fleet has a finished rollout by now");
    for &i in &ended {
        let panels = &h.model.rollouts[i].panels;
        let counted: Vec<_> = panels.iter().filter(|p| p.counters.is_some()).collect();
        assert!(!counted.is_empty());
        assert!(
            counted
                .iter()
                .all(|p| p.counted_to_the_end && p.sequential_result.is_some()),
            "{}: the judge has its last word",
            h.model.rollouts[i].name
        );
    }
    h.drain();
    h.advance(120);
    let requests: Vec<_> = h
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            Effect::FetchMetrics { request, .. } => Some(request),
            _ => None,
        })
        .collect();
    let name = |i: usize| h.model.rollouts[i].name.clone();
    let ended_names: Vec<String> = ended.iter().map(|&i| name(i)).collect();
    let mut finished_polls = 0;
    let mut running_counted = 0;
    for r in &requests {
        let member = r.rollout.as_ref().expect("a fleet poll names its rollout");
        let counts = r.metrics.iter().filter(|m| m.counts.is_some()).count();
        if ended_names.contains(&member.name) {
            finished_polls += 1;
            assert_eq!(counts, 0, "{}: counted no more", member.name);
        } else {
            running_counted += counts;
        }
        // No member's grouped read holds a finished one's series.
        if let Some(group) = &member.group {
            assert!(group.recorded, "{}: [fleet] recorded", member.name);
            for (m, since) in group.members.iter().zip(&group.counted_since) {
                if ended_names.contains(m) {
                    assert_eq!(*since, None, "{m} in {}'s group", member.name);
                }
            }
        }
    }
    assert!(
        finished_polls > 0,
        "finished rows are still polled (their metrics)"
    );
    assert!(running_counted > 0, "the running rows are still counted");

    // The finished one moves again (a retry): it is counted afresh.
    let i = ended[0];
    let mut moved = h.model.rollouts[i].rollout.clone().expect("read");
    moved.state = RolloutState::Progressing;
    let name = name(i);
    let generation = h.model.rollouts[i].polls.rollout_generation;
    let _ = update(
        &mut h.model,
        Msg::RolloutFetched {
            generation,
            at: h.now,
            result: Ok(moved),
        },
    );
    h.model.rollouts[i].polls.metrics_started = None;
    h.model.rollouts[i].polls.metrics_in_flight = false;
    h.model.rollouts[i].polls.metrics_next_at = Some(h.now);
    let effects = update(&mut h.model, Msg::Tick(h.now));
    let asked = effects.iter().find_map(|e| match e {
        Effect::FetchMetrics { request, .. }
            if request.rollout.as_ref().is_some_and(|r| r.name == name) =>
        {
            Some(
                request
                    .metrics
                    .iter()
                    .filter(|m| m.counts.is_some())
                    .count(),
            )
        }
        _ => None,
    });
    assert_eq!(asked, Some(2), "{name}: counted again once it moves");
}

#[test]
fn a_finished_rollout_asks_its_chart_window_not_its_last_steps_whole_age() {
    let mut h = FleetHarness::new(8);
    h.advance(60);
    let i = (0..8)
        .find(|&i| {
            let r = &h.model.rollouts[i];
            r.rollout.as_ref().is_some_and(|r| r.state.is_terminal())
        })
        .expect("a finished rollout");
    let two_hours = std::time::Duration::from_secs(2 * 3600);
    let r = h.model.rollouts[i].rollout.as_mut().expect("read");
    r.step_started_at = h.now - chrono::Duration::hours(2);
    let chart = h.model.chart_window.duration();
    assert_eq!(h.model.lookback(i), chart, "finished: the chart window");
    // The same step on a running rollout is judged over its hold: reached back whole.
    let r = h.model.rollouts[i].rollout.as_mut().expect("read");
    r.state = RolloutState::Progressing;
    assert!(h.model.lookback(i) > two_hours, "{:?}", h.model.lookback(i));
}

#[test]
fn rows_tracked_by_pod_hash_ask_their_metrics_once_read_and_say_reading_until_answered() {
    let mut h = FleetHarness::unasked(8, grouped(false));
    let start = update(&mut h.model, Msg::Tick(h.now));
    assert_eq!(rollout_reads(&start), 8);
    // Without the hashes there is nothing to ask: no poll goes ahead of the reads.
    assert_eq!(metrics_polls(&start), []);
    let screen = render_model(&h.model, 160, 48);
    assert!(!screen.contains("NO DATA"), "{screen}");
    assert!(screen.contains("… reading"), "{screen}");
    // The reads answer one by one: no row asks its metrics before the whole fleet is read, so
    // that each first poll's grouped reads know every member (asked as each read came in, an
    // hour-old fleet's counters were read whole member by member: ~600 queries at start-up).
    let last_read = start
        .iter()
        .rposition(|e| matches!(e, Effect::FetchRollout { .. }))
        .expect("a read");
    let mut start = start;
    let last = start.remove(last_read);
    h.answer(start);
    h.tick();
    assert_eq!(metrics_polls(&h.drain()), [], "7 of 8 read: no poll yet");
    h.answer(vec![last]);
    h.tick();
    let at_once = metrics_polls(&h.seen).len();
    assert!(
        (1..8).contains(&at_once),
        "{at_once} at once: spread over a step"
    );
    // The others in their slots over the next step (2 s here).
    h.advance(2);
    let polls: Vec<_> = h
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            Effect::FetchMetrics { request, .. } => Some(request),
            _ => None,
        })
        .collect();
    assert_eq!(polls.len(), 8, "each row asked once, when all are read");
    for request in &polls {
        let member = request.rollout.as_ref().expect("a fleet member");
        assert!(request.tracks.is_some(), "{}: by its hashes", member.name);
        let group = member.group.as_ref().expect("grouped");
        let known = group.counted_since.iter().filter(|s| s.is_some()).count();
        assert_eq!(known, 8, "{}: knows every member's start", member.name);
    }
    // The rows are worked out again at the next tick.
    h.tick();
    let screen = render_model(&h.model, 160, 48);
    assert!(!screen.contains("… reading"), "{screen}");
}

#[test]
fn a_read_that_never_answers_holds_the_fleets_first_polls_three_intervals_at_most() {
    let mut h = FleetHarness::unasked(8, grouped(false));
    let hung = |e: &Effect| matches!(e, Effect::FetchRollout { name, .. } if name == "checkout");
    let start = update(&mut h.model, Msg::Tick(h.now));
    assert_eq!(start.iter().filter(|e| hung(e)).count(), 1);
    h.answer(start.into_iter().filter(|e| !hung(e)).collect());
    assert_eq!(metrics_polls(&h.drain()), [], "checkout not read yet");
    // Each second, every read but checkout's answered; the poll interval is 2 s.
    let mut first_poll = None;
    let mut polled = std::collections::BTreeSet::new();
    for second in 1..=10 {
        h.now += chrono::Duration::seconds(1);
        let effects = update(&mut h.model, Msg::Tick(h.now));
        h.answer(effects.into_iter().filter(|e| !hung(e)).collect());
        let polls = metrics_polls(&h.drain());
        if !polls.is_empty() {
            first_poll.get_or_insert(second);
        }
        polled.extend(polls.into_iter().map(|(name, _)| name));
    }
    // Not before three intervals (6 s), and not much after; every row but checkout.
    assert_eq!(first_poll, Some(6));
    assert_eq!(polled.len(), 7, "{polled:?}");
    assert!(!polled.contains("checkout"), "{polled:?}");
}

#[test]
fn on_the_list_an_answer_waits_for_the_tick_to_be_drawn_and_on_a_rollout_it_does_not() {
    use rollout_console::app::update::draw_waits_for_tick;
    let mut h = FleetHarness::new(4);
    let answer = Msg::MetricsFetched {
        generation: 0,
        at: h.now,
        result: Default::default(),
    };
    assert!(h.model.fleet.shown);
    assert!(draw_waits_for_tick(&h.model, &answer));
    // What the user does, and the tick that works the rows out again, are drawn at once.
    assert!(!draw_waits_for_tick(&h.model, &Msg::Tick(h.now)));
    let key = message_for(
        &h.model,
        KeyPress {
            key: Key::Char('j'),
            ctrl: false,
        },
    )
    .expect("j moves");
    assert!(!draw_waits_for_tick(&h.model, &key));
    // One rollout open: its panels show each answer as it comes.
    h.press(Key::Enter);
    assert!(!h.model.fleet.shown);
    assert!(!draw_waits_for_tick(&h.model, &answer));
}

fn fleet_reads(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::FetchFleet { .. }))
        .count()
}

#[test]
fn a_backend_that_reads_its_fleet_whole_is_read_once_a_poll_the_open_rollout_on_its_own() {
    let mut h = FleetHarness::unasked(8, None);
    h.model.reads_fleet_whole = true;
    h.tick();
    let first = h.drain();
    assert_eq!(
        (fleet_reads(&first), rollout_reads(&first)),
        (1, 0),
        "one read for the whole list"
    );
    assert!(
        !first.iter().any(|e| matches!(e, Effect::ListRollouts)),
        "the fleet's read lists it"
    );
    assert!(h.model.rollouts.iter().all(|r| r.rollout.is_some()));
    let mut asked: Vec<String> = metrics_polls(&first).into_iter().map(|(n, _)| n).collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), 8, "each row's first metrics");
    h.advance(2);
    let next = h.drain();
    assert_eq!((fleet_reads(&next), rollout_reads(&next)), (1, 0));

    // The rollout on screen is read on its own, the other rows with the fleet.
    h.select("search");
    h.press(Key::Enter);
    h.drain();
    h.advance(2);
    let open = h.drain();
    assert_eq!((fleet_reads(&open), rollout_reads(&open)), (1, 1));
    assert!(
        open.iter()
            .any(|e| matches!(e, Effect::FetchRollout { name, .. } if name == "search"))
    );
    h.press(Key::Esc);
    assert!(h.model.fleet.shown);

    // A row's own read still in flight when the fleet's read goes is superseded by it: its late
    // answer (an older state) is dropped.
    let i = h.index("checkout");
    let own = update(&mut h.model, Msg::RolloutChanged("checkout".into()));
    let Some(Effect::FetchRollout {
        generation: older, ..
    }) = own.first().cloned()
    else {
        panic!("a read of its own: {own:?}")
    };
    h.advance(6);
    assert!(fleet_reads(&h.drain()) >= 1);
    let fresh = h.model.rollouts[i].rollout.clone().expect("read");
    let mut stale = fresh.clone();
    stale.step = 0;
    stale.canary_weight = 1;
    update(
        &mut h.model,
        Msg::RolloutFetched {
            generation: older,
            at: h.now,
            result: Ok(stale),
        },
    );
    assert_eq!(h.model.rollouts[i].rollout.as_ref(), Some(&fresh));

    // A rollout the fleet's answer lists for the first time is followed, read from it; a row
    // the answer lacks is read on its own (the simulator does not know it: its row says so).
    h.extra_listed.push("late-arrival".into());
    h.model.rollouts.push(
        h.model
            .template
            .as_ref()
            .expect("fleet")
            .instantiate("gone"),
    );
    h.advance(6);
    let late = h.index("late-arrival");
    assert!(h.model.rollouts[late].rollout.is_some());
    assert!(h.fleet_events().contains("new rollout: late-arrival"));
    let gone = h.index("gone");
    let seen = h.drain();
    assert!(
        seen.iter()
            .any(|e| matches!(e, Effect::FetchRollout { name, .. } if name == "gone")),
        "{seen:?}"
    );
    let error = h.model.rollouts[gone]
        .rollout_error
        .as_ref()
        .map(ToString::to_string);
    assert_eq!(error.as_deref(), Some("no such rollout"));
}

#[test]
fn one_row_reads_the_fleet_whole_first_and_the_others_follow_once_it_answered() {
    let mut h = FleetHarness::unasked(8, grouped(false));
    // Every read answers; the first metrics poll (the fleet's whole read) is held 5 s.
    h.hold_metrics = true;
    for second in 0..5 {
        h.now = t0() + chrono::Duration::seconds(second);
        h.tick();
    }
    let first = metrics_polls(&h.held);
    assert_eq!(
        first.len(),
        1,
        "one row reads the fleet, the others wait: {first:?}"
    );
    h.hold_metrics = false;
    let held = std::mem::take(&mut h.held);
    h.answer(held);
    h.drain();
    // Then the others, spread over one step (2 s here; ticks are 2 s apart), each once.
    h.advance(4);
    let rest = metrics_polls(&h.drain());
    let mut names: Vec<&str> = rest.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    // (The first row may be polled again at its cadence, 6 s here.)
    names.retain(|n| *n != first[0].0);
    assert_eq!(names.len(), 7, "{rest:?}");
}
