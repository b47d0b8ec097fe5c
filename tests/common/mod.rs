//! A harness that drives the real `update` with the simulator answering effects synchronously,
//! at a pinned time, and renders with ratatui's TestBackend.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

use rollout_console::app::model::{Model, Settings};
use rollout_console::app::{Effect, Msg, update};
use rollout_console::setup::demo_panels as demo;
use rollout_console::sim::source::answer;
use rollout_console::sim::{Scenario, SimOptions, Simulator};
use rollout_console::tui::keys::map_key;
use rollout_console::ui::{self, Theme};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .expect("valid time")
}

pub fn settings(read_only: bool) -> Settings {
    Settings {
        rollout_name: "checkout".into(),
        read_only,
        poll_interval: Duration::from_secs(2),
        min_budget_to_promote_pct: 10.0,
        actor: "alice@bastion".into(),
        ssh_client: Some("10.0.0.7".into()),
        source_label: "simulator (test)".into(),
        audit_path: "/var/lib/rollout-console/audit.jsonl".into(),
    }
}

pub struct Harness {
    pub model: Model,
    pub sim: Simulator,
    pub now: DateTime<Utc>,
    /// Effects that were not answered (actions), in order.
    pub pending: Vec<Effect>,
}

impl Harness {
    pub fn new(scenario: Scenario, read_only: bool) -> Self {
        Self::with_seed(scenario, 7, read_only)
    }

    pub fn with_seed(scenario: Scenario, seed: u64, read_only: bool) -> Self {
        let sim = Simulator::new(
            SimOptions {
                scenario,
                seed,
                ..SimOptions::default()
            },
            t0(),
        );
        let mut model = Model::new(
            settings(read_only),
            demo::metric_panels(),
            demo::slo_panels(),
            t0(),
        );
        // What the demo's simulated backend offers.
        model.actions = rollout_console::sim::backend::SIM_ACTIONS.to_vec();
        let mut h = Self {
            model,
            sim,
            now: t0(),
            pending: vec![],
        };
        h.poll();
        h
    }

    /// Move the clock (and the simulator) forward and poll at each interval on the way.
    pub fn advance(&mut self, secs: i64) {
        let end = self.now + chrono::Duration::seconds(secs);
        while self.now < end {
            self.now = (self.now + chrono::Duration::seconds(2)).min(end);
            self.sim.advance_to(self.now);
            self.poll();
        }
    }

    /// One tick: answer the fetches it causes from the simulator; keep other effects.
    pub fn poll(&mut self) {
        let effects = update(&mut self.model, Msg::Tick(self.now));
        self.answer(effects);
    }

    pub fn answer(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::FetchRollout { generation, .. } => {
                    let msg = Msg::RolloutFetched {
                        generation,
                        at: self.now,
                        result: Ok(self.sim.rollout().clone()),
                    };
                    let more = update(&mut self.model, msg);
                    self.answer(more);
                }
                Effect::FetchMetrics {
                    generation,
                    request,
                    ..
                } => {
                    let result = answer(&mut self.sim, &request);
                    let more = update(
                        &mut self.model,
                        Msg::MetricsFetched {
                            generation,
                            at: self.now,
                            result,
                        },
                    );
                    self.answer(more);
                }
                other => self.pending.push(other),
            }
        }
    }

    /// Press a key through the keymap; returns the effects `update` produced.
    pub fn press(&mut self, code: KeyCode) -> Vec<Effect> {
        self.press_with(code, KeyModifiers::NONE)
    }

    pub fn press_with(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Vec<Effect> {
        let effects = match map_key(&self.model, KeyEvent::new(code, modifiers)) {
            Some(msg) => update(&mut self.model, msg),
            None => vec![],
        };
        // As the terminal loop does after drawing: tell the model how far the open view scrolls.
        let last = ui::overlay_max_scroll(&self.model, self.model.screen);
        update(&mut self.model, Msg::OverlayMeasured(last));
        effects
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            let effects = self.press(KeyCode::Char(c));
            assert!(effects.is_empty(), "typing must not act");
        }
    }

    pub fn render(&self, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        terminal
            .draw(|f| ui::draw(f, &self.model, &Theme { color: false }))
            .expect("draw");
        terminal.backend().to_string()
    }

    pub fn events_text(&self) -> String {
        self.model
            .current()
            .events
            .iter()
            .map(|e| e.text.clone())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Harness {
    /// A harness around a simulator already built (e.g. a member of `sim::fleet`), its console
    /// following that simulator's rollout from `now`.
    pub fn from_simulator(sim: Simulator, now: DateTime<Utc>) -> Self {
        let mut settings = settings(false);
        settings.rollout_name = sim.rollout().name.clone();
        let mut model = Model::new(settings, demo::metric_panels(), demo::slo_panels(), now);
        model.actions = rollout_console::sim::backend::SIM_ACTIONS.to_vec();
        let mut h = Self {
            model,
            sim,
            now,
            pending: vec![],
        };
        h.poll();
        h
    }
}

/// A console following `n` rollouts of `simulate --fleet n` (seed 7): each member's simulator
/// starts at `t0()` and is driven by its own harness for `secs` seconds, as one rollout is;
/// then their rollout models are gathered into one console, which opens on the fleet list.
pub fn fleet_model(n: usize, secs: i64) -> Model {
    use rollout_console::sim::fleet::{plan, simulate};
    let base = SimOptions {
        seed: 7,
        ..SimOptions::default()
    };
    let rollouts: Vec<_> = plan(n, base.seed)
        .iter()
        .map(|member| {
            let mut h = Harness::from_simulator(simulate(member, &base, t0()), t0());
            h.advance(secs);
            h.model.rollouts.remove(0)
        })
        .collect();
    let mut model = Model::new(
        settings(false),
        demo::metric_panels(),
        demo::slo_panels(),
        t0() + chrono::Duration::seconds(secs),
    )
    .with_rollouts(rollouts);
    model.actions = rollout_console::sim::backend::SIM_ACTIONS.to_vec();
    // A message that asks for nothing, so that the derived rows are worked out.
    let _ = update(&mut model, Msg::Resize(80, 24));
    model
}

/// Renders any model as the harness does.
pub fn render_model(model: &Model, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| ui::draw(f, model, &Theme { color: false }))
        .expect("draw");
    terminal.backend().to_string()
}
