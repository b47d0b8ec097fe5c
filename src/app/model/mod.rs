//! The console's state: `Model` and one `RolloutModel` per rollout. The view reads it; only
//! `update` changes it. The parts live beside: panels.rs, overlay.rs, settings.rs, polls.rs,
//! events.rs, view.rs (`Derived`, `Tone`).

mod events;
mod fleet;
mod overlay;
mod panels;
mod polls;
mod settings;
mod view;

pub use events::{Event, EventLevel};
pub use fleet::{BudgetCell, FleetRow, FleetView};

pub use overlay::{InFlight, Overlay, Prompt, PromptField, Unresolved};
pub use panels::{Freshness, MetricPanel, STALE_AFTER_POLLS, SloPanel, worst};
pub use polls::{PodHashTracks, Polls};
pub use settings::{ChartWindow, Settings};
pub use view::{Derived, Tone};

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

use crate::domain::action::ActionKind;
use crate::domain::format::age;
use crate::domain::judge::{Classification, Score, ScoreInput, ScoreThresholds, score};
use crate::domain::{BudgetStatus, GateEvaluation, Rollout, Verdict};
use crate::metrics::source::Selectors;

const MAX_EVENTS: usize = 200;

/// What the console knows and shows of one rollout: its answers, panels, events, polls and the
/// action in flight. The model holds one per rollout (the fleet is a list of them).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutModel {
    /// The rollout's name as the backend knows it.
    pub name: String,
    pub rollout: Option<Rollout>,
    /// Why the last read failed (typed; the view turns it into words).
    pub rollout_error: Option<crate::backend::ReadError>,
    pub last_rollout_ok: Option<DateTime<Utc>>,
    pub panels: Vec<MetricPanel>,
    pub slos: Vec<SloPanel>,
    pub events: VecDeque<Event>,
    pub focus: usize,
    pub in_flight: Option<InFlight>,
    /// After an action the rollout must be re-read before another prompt opens.
    pub awaiting_reread: bool,
    /// The last action whose outcome is unknown, until a read decides it.
    pub unresolved: Option<Unresolved>,
    /// The last action's outcome in one line, for the footer.
    pub action_status: Option<(EventLevel, String)>,
    pub polls: Polls,
    /// The warnings of the last metrics answer, so a repeated warning is reported once.
    pub metrics_warnings: Vec<String>,
    /// Set when the track selectors come from the rollout's pod-template hashes.
    pub pod_hash_tracks: Option<PodHashTracks>,
    /// This rollout's own PromQL selectors (a fleet's rows); `None`: the source's configured
    /// ones (one rollout, or the simulator).
    pub selectors: Option<Selectors>,
    /// Its rank in the attention sort at the last update, once read: a change is an event.
    pub rank: Option<crate::domain::attention::Attention>,
    /// The step it was at when last ranked (a promotion's ready → progressing is no news).
    pub ranked_at_step: Option<usize>,
    /// Queried with the fleet's grouped queries (`[fleet] group_by`, selectors from `[fleet]`).
    pub grouped: bool,
    /// What this user may not do to this rollout (RBAC differs by namespace), asked once when it
    /// is first on screen or selected; `None` until answered.
    pub permissions: Option<crate::domain::action::Permissions>,
}

impl RolloutModel {
    /// The newest event first; the oldest fall off past `MAX_EVENTS`.
    pub fn push_event(&mut self, at: DateTime<Utc>, level: EventLevel, text: impl Into<String>) {
        self.events.push_front(Event {
            at,
            level,
            text: text.into(),
        });
        self.events.truncate(MAX_EVENTS);
    }

    pub fn new(name: String, panels: Vec<MetricPanel>, slos: Vec<SloPanel>) -> Self {
        Self {
            name,
            rollout: None,
            rollout_error: None,
            last_rollout_ok: None,
            panels,
            slos,
            events: VecDeque::new(),
            focus: 0,
            in_flight: None,
            awaiting_reread: false,
            unresolved: None,
            action_status: None,
            polls: Polls::default(),
            metrics_warnings: Vec::new(),
            pod_hash_tracks: None,
            selectors: None,
            rank: None,
            ranked_at_step: None,
            grouped: false,
            permissions: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub settings: Settings,
    pub now: DateTime<Utc>,
    pub chart_window: ChartWindow,
    pub overlay: Overlay,
    /// `[judge]` score thresholds.
    pub judge_thresholds: ScoreThresholds,
    /// `[judge] alpha`: the sequential judge's false-alarm budget for the whole rollout.
    pub sequential_alpha: f64,
    /// The actions the backend can take at all (promote-full, retry and undo are optional).
    pub actions: Vec<ActionKind>,
    /// The configured Prometheus selectors, to show the queries as sent; `None` for the
    /// simulator.
    pub query_selectors: Option<Selectors>,
    /// The terminal's size (columns, rows), for how far the detail and events views scroll.
    pub screen: (u16, u16),
    /// How far the open detail or events view can scroll, as the view measured it at the last
    /// draw (`Msg::OverlayMeasured`); `usize::MAX` until measured. `update` clamps with it so
    /// that the app never calls into the view.
    pub overlay_last_scroll: usize,
    /// Worked out from the fields above at the end of every `update`, for the view.
    pub derived: Derived,
    pub quit: bool,
    /// Every rollout the console follows; never empty.
    pub rollouts: Vec<RolloutModel>,
    /// How often the SLO windows are asked again (`[prometheus] slo_refresh`); zero asks them at
    /// every poll (the simulator, whose answers cost nothing).
    pub slo_refresh: Duration,
    /// The index in `rollouts` of the rollout on screen.
    pub open: usize,
    /// The fleet list (shown only when the console follows more than one rollout).
    pub fleet: FleetView,
    /// The last request generation handed out (unique over every rollout's reads).
    pub generation: u64,
    /// What a rollout the backend lists later is followed with (its panels, SLOs, selectors);
    /// `None`: the console follows only the rollouts it started with.
    pub template: Option<RolloutTemplate>,
    /// The fleet's own events (a rollout appeared, one changed rank), newest first.
    pub fleet_events: VecDeque<Event>,
    /// When the backend was last asked for its list of rollouts.
    pub list_asked: Option<DateTime<Utc>>,
    /// The backend reads every rollout whole in one call (`RolloutReader::reads_fleet_whole`):
    /// the rows not on screen are read together, one call a poll.
    pub reads_fleet_whole: bool,
}

/// How the console follows a rollout it was not started with (one the backend lists later).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutTemplate {
    pub panels: Vec<MetricPanel>,
    pub slos: Vec<SloPanel>,
    /// The selectors made for a rollout's name (`[fleet] service` with `$rollout`, and the
    /// pod-template-hash tracks); `None` for the simulator.
    pub selectors: Option<FleetSelectors>,
}

/// `[fleet]`: the selectors of a rollout the config does not name.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSelectors {
    /// Label matchers with `$rollout`, e.g. `app="$rollout"`; empty: none.
    pub service: String,
    /// The pod-template-hash label the tracks are told apart by.
    pub pod_hash_label: String,
    /// `[fleet] group_by`: the label holding the rollout's name in every series, so that one
    /// query per metric answers the whole fleet; `None`: a query per rollout.
    pub group_by: Option<String>,
    /// `[fleet] recorded`: grouped queries read the rules `rollout-console rules` writes.
    pub recorded: bool,
}

impl RolloutTemplate {
    /// A rollout named `name`, followed as the template says.
    pub fn instantiate(&self, name: &str) -> RolloutModel {
        let mut r = RolloutModel::new(name.to_string(), self.panels.clone(), self.slos.clone());
        if let Some(fleet) = &self.selectors {
            let (selectors, tracks) = fleet.for_rollout(name);
            r.selectors = Some(selectors);
            r.pod_hash_tracks = Some(tracks);
            r.grouped = fleet.group_by.is_some();
        }
        r
    }
}

impl FleetSelectors {
    /// The selectors of rollout `name` (its `namespace/` prefix, if any, is not part of the
    /// label value) and its pod-hash tracks.
    pub fn for_rollout(&self, name: &str) -> (Selectors, PodHashTracks) {
        let bare = name.rsplit('/').next().unwrap_or(name);
        let service = crate::metrics::template::fill_rollout(&self.service, bare);
        let selectors = Selectors {
            baseline: String::new(),
            canary: String::new(),
            service: service.clone(),
            rollout: bare.to_string(),
        };
        let tracks = PodHashTracks {
            label: self.pod_hash_label.clone(),
            service,
        };
        (selectors, tracks)
    }
}

impl Model {
    /// The rollout on screen.
    pub fn current(&self) -> &RolloutModel {
        &self.rollouts[self.open]
    }

    pub fn current_mut(&mut self) -> &mut RolloutModel {
        &mut self.rollouts[self.open]
    }

    pub fn new(
        settings: Settings,
        panels: Vec<MetricPanel>,
        slos: Vec<SloPanel>,
        now: DateTime<Utc>,
    ) -> Self {
        let name = settings.rollout_name.clone();
        Self {
            settings,
            now,
            chart_window: ChartWindow::M5,
            overlay: Overlay::None,
            judge_thresholds: ScoreThresholds::default(),
            sequential_alpha: crate::domain::sequential::DEFAULT_ALPHA,
            actions: ActionKind::BASIC.to_vec(),
            query_selectors: None,
            screen: (80, 24),
            overlay_last_scroll: usize::MAX,
            derived: Derived::default(),
            quit: false,
            rollouts: vec![RolloutModel::new(name, panels, slos)],
            slo_refresh: Duration::ZERO,
            open: 0,
            fleet: FleetView::default(),
            generation: 0,
            template: None,
            fleet_events: VecDeque::new(),
            list_asked: None,
            reads_fleet_whole: false,
        }
    }

    /// A new request generation, unique over the console's life and its rollouts.
    pub fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// The rollout whose screen is showing; `None` while the fleet list is.
    pub fn on_screen(&self) -> Option<usize> {
        (!self.fleet.shown).then_some(self.open)
    }

    /// An event in rollout `i`'s log, at `now`.
    pub fn push_event_to(&mut self, i: usize, level: EventLevel, text: impl Into<String>) {
        let at = self.now;
        self.rollouts[i].push_event(at, level, text);
    }

    /// An event of the fleet list (newest first; the oldest fall off past `MAX_EVENTS`).
    pub fn push_fleet_event(&mut self, level: EventLevel, text: impl Into<String>) {
        self.fleet_events.push_front(Event {
            at: self.now,
            level,
            text: text.into(),
        });
        self.fleet_events.truncate(MAX_EVENTS);
    }

    /// A console that follows `rollouts` (never empty: an empty list keeps the one `new` made):
    /// with more than one it opens on the fleet list.
    pub fn with_rollouts(mut self, rollouts: Vec<RolloutModel>) -> Self {
        if !rollouts.is_empty() {
            self.rollouts = rollouts;
        }
        self.open = 0;
        self.fleet = FleetView {
            shown: self.rollouts.len() > 1,
            // No rollout yet: the next `update` selects the most urgent row.
            selected: usize::MAX,
            ..FleetView::default()
        };
        self
    }

    pub fn push_event(&mut self, level: EventLevel, text: impl Into<String>) {
        let at = self.now;
        self.current_mut().push_event(at, level, text);
    }

    /// Age of the last successful poll of anything, for the header.
    pub fn last_poll_age(&self) -> Option<Duration> {
        self.current().last_poll_age(self.now)
    }

    /// Age of the newest good metrics answer (any panel or SLO); `None` before the first.
    pub fn metrics_age(&self) -> Option<Duration> {
        self.current().metrics_age(self.now)
    }

    /// Age of the last good rollout read; `None` before the first.
    pub fn rollout_age(&self) -> Option<Duration> {
        self.current().rollout_age(self.now)
    }

    /// See [`RolloutModel::metrics_failing`].
    pub fn metrics_failing(&self) -> bool {
        self.current()
            .metrics_failing(self.now, self.settings.poll_interval)
    }

    /// See [`RolloutModel::rollout_failing`].
    pub fn rollout_failing(&self) -> bool {
        self.current()
            .rollout_failing(self.now, self.settings.poll_interval)
    }

    pub fn gate_evaluations(&self) -> Vec<(String, GateEvaluation)> {
        self.current().gate_evaluations()
    }

    /// Whether the current step may be promoted, judged over the whole hold from the series.
    pub fn readiness(&self) -> Option<crate::domain::readiness::Readiness> {
        self.current().readiness(self.now)
    }

    /// How often an SLO's answer is expected: its freshness is judged against this.
    pub fn slo_interval(&self) -> Duration {
        self.settings.poll_interval.max(self.slo_refresh)
    }

    /// How far back a poll must reach: the chart window, or the whole current step when longer
    /// (readiness is judged over the hold), at most 6 hours. A finished rollout has no hold
    /// left: the chart window (its last step would otherwise grow with its age, and a grouped
    /// fleet's range with it).
    pub fn lookback(&self, i: usize) -> Duration {
        let step = self.rollouts[i]
            .rollout
            .as_ref()
            .filter(|r| !r.state.is_terminal())
            .map_or(Duration::ZERO, |r| {
                r.step_elapsed(self.now) + self.settings.poll_interval * 2
            });
        self.chart_window
            .duration()
            .max(step.min(Duration::from_secs(6 * 3600)))
    }

    /// Each sequential metric's share of `[judge] alpha`.
    pub fn sequential_alpha_per_metric(&self, i: usize) -> f64 {
        let n = self.rollouts[i]
            .panels
            .iter()
            .filter(|p| p.sequential.is_some())
            .count();
        crate::domain::sequential::alpha_per_metric(self.sequential_alpha, n)
    }

    /// See [`RolloutModel::sequential_summary`].
    pub fn sequential_summary(&self) -> Option<(Verdict, &str)> {
        self.current().sequential_summary()
    }

    /// See [`RolloutModel::judge_collecting`].
    pub fn judge_collecting(&self) -> bool {
        self.current().judge_collecting(&self.judge_thresholds)
    }

    /// The statistical judge's score over the metrics that have a judge; `None` when none has.
    pub fn judge_score(&self) -> Option<Score> {
        self.current().judge_score(&self.judge_thresholds)
    }

    pub fn budgets(&self) -> Vec<(String, BudgetStatus)> {
        self.current().budgets()
    }
}

/// What one rollout's model says on its own (at `now`, with the console's settings passed in):
/// the same figures the rollout screen shows, for the open rollout and for every fleet row.
impl RolloutModel {
    /// Completed or rolled back (see `RolloutState::is_finished`).
    pub fn is_finished(&self) -> bool {
        self.rollout.as_ref().is_some_and(|r| r.state.is_finished())
    }

    /// Age of the last successful poll of anything, for the header.
    pub fn last_poll_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        let newest = self
            .panels
            .iter()
            .filter_map(|p| p.last_good)
            .chain(self.last_rollout_ok)
            .max()?;
        Some(age(newest, now))
    }

    /// Age of the newest good metrics answer (any panel or SLO); `None` before the first.
    pub fn metrics_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        let newest = self
            .panels
            .iter()
            .filter_map(|p| p.last_good)
            .chain(self.slos.iter().filter_map(|s| s.last_good))
            .max()?;
        Some(age(newest, now))
    }

    /// Age of the last good rollout read; `None` before the first.
    pub fn rollout_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.last_rollout_ok.map(|t| age(t, now))
    }

    /// Metrics are failing: every query errs, or no good answer for STALE_AFTER_POLLS intervals
    /// (Prometheus hangs: no answer, so no error either).
    pub fn metrics_failing(&self, now: DateTime<Utc>, poll: Duration) -> bool {
        if self.panels.is_empty() && self.slos.is_empty() {
            return false; // nothing is asked of Prometheus
        }
        let stale_after = poll * STALE_AFTER_POLLS;
        let all_err = !self.panels.is_empty() && self.panels.iter().all(|p| p.error.is_some());
        let silent = match self.metrics_age(now) {
            Some(a) => a > stale_after,
            None => self
                .polls
                .metrics_started
                .is_some_and(|_| self.polls.metrics_asked > u64::from(STALE_AFTER_POLLS)),
        };
        all_err || silent
    }

    /// The rollout read is failing: the last read erred, or none answered for
    /// STALE_AFTER_POLLS intervals.
    pub fn rollout_failing(&self, now: DateTime<Utc>, poll: Duration) -> bool {
        let stale_after = poll * STALE_AFTER_POLLS;
        self.rollout_error.is_some() || self.rollout_age(now).is_some_and(|a| a > stale_after)
    }

    pub fn gate_evaluations(&self) -> Vec<(String, GateEvaluation)> {
        self.panels
            .iter()
            .map(|p| {
                let eval = match (&p.error, &p.eval) {
                    (None, Some(e)) => {
                        let mut e = e.clone();
                        // The judges' word counts wherever the gate's does (prompts, receipts, check).
                        e.verdict = p.verdict();
                        e.severity = p.severity();
                        let gate_verdict = p.eval.as_ref().map_or(e.verdict, |g| g.verdict);
                        if let Some(j) = p.judge_result.as_ref().filter(|_| p.judge.is_some()) {
                            let judge_decided = e.verdict != gate_verdict;
                            // When the judge is what made it fail, say that first.
                            let at = if judge_decided { 0 } else { e.reasons.len() };
                            e.reasons.insert(at, format!("judge: {}", j.reason));
                        }
                        if let Some(text) = p.sequential_reason() {
                            let decided = p.sequential_verdict() == Some(e.verdict)
                                && e.verdict != gate_verdict;
                            let at = if decided || !p.def.gate.has_checks() {
                                0
                            } else {
                                e.reasons.len()
                            };
                            e.reasons.insert(at, format!("sequential: {text}"));
                        }
                        e
                    }
                    _ => GateEvaluation {
                        verdict: Verdict::NoData,
                        severity: p.def.gate.severity,
                        baseline: None,
                        canary: None,
                        reasons: vec![p.reason()],
                        violating_points: 0,
                        required_points: 1,
                        threshold: None,
                        canary_requests: None,
                    },
                };
                (p.def.name.clone(), eval)
            })
            .collect()
    }

    /// Whether the current step may be promoted, judged over the whole hold from the series.
    pub fn readiness(&self, now: DateTime<Utc>) -> Option<crate::domain::readiness::Readiness> {
        use crate::domain::readiness::{readiness_of, step_gate};
        let r = self.rollout.as_ref()?;
        let gates: Vec<_> = self
            .panels
            .iter()
            .map(|p| {
                let says = match p.step_gate {
                    Some((start, says)) if start == r.step_started_at => says,
                    // The step moved since the series came: worked out again until they do.
                    _ => step_gate(
                        &p.def.gate,
                        &p.series.baseline,
                        &p.series.canary,
                        r.step_started_at,
                    ),
                };
                (p.def.name.as_str(), says)
            })
            .collect();
        let mut ready = readiness_of(r, &gates, now);
        // The judges must have passed the step too: a FAIL, a count still going or no counts
        // is not ready.
        for p in &self.panels {
            match p.sequential_verdict() {
                Some(Verdict::Pass) | None => {}
                Some(v) => {
                    ready.ready = false;
                    let why = format!("{}: judge {}", p.def.name, v.label());
                    // A judge's FAIL matters more than the time left in the hold.
                    if matches!(v, Verdict::Fail | Verdict::NoData) {
                        ready.reasons.insert(0, why);
                    } else {
                        ready.reasons.push(why);
                    }
                }
            }
        }
        // A panel whose query failed has old series: never call that ready.
        for p in self.panels.iter().filter(|p| p.error.is_some()) {
            ready.ready = false;
            ready
                .reasons
                .push(format!("{}: the last query failed", p.def.name));
        }
        Some(ready)
    }

    /// The worst sequential verdict and the metric that has it (FAIL, then NO DATA, COLLECTING,
    /// PASS); `None` when no metric is judged sequentially.
    pub fn sequential_summary(&self) -> Option<(Verdict, &str)> {
        self.panels
            .iter()
            .filter_map(|p| Some((p.sequential_verdict()?, p.def.name.as_str())))
            .reduce(|a, b| {
                if worst(a.0, b.0) == b.0 && a.0 != b.0 {
                    b
                } else {
                    a
                }
            })
    }

    /// Whether the Mann–Whitney judge is still gathering samples (at the start of each step): a
    /// judged metric is short of points and nothing has been found against the canary yet. The
    /// score would read 0/100 (forced by too little data), which looks like failing.
    pub fn judge_collecting(&self, thresholds: &ScoreThresholds) -> bool {
        let judged: Vec<&MetricPanel> = self.panels.iter().filter(|p| p.judge.is_some()).collect();
        let short = |p: &&MetricPanel| {
            p.error.is_none()
                && p.judge_result
                    .as_ref()
                    .is_none_or(|r| r.classification == Classification::NoData)
        };
        let against = |p: &&MetricPanel| {
            p.judge_result.as_ref().is_some_and(|r| {
                matches!(r.classification, Classification::High | Classification::Low)
            })
        };
        judged.iter().any(short)
            && !judged.iter().any(against)
            && self
                .judge_score(thresholds)
                .is_some_and(|s| s.overall != crate::domain::judge::Overall::Pass)
    }

    /// The statistical judge's score over the metrics that have a judge; `None` when none has.
    pub fn judge_score(&self, thresholds: &ScoreThresholds) -> Option<Score> {
        let inputs: Vec<ScoreInput> = self
            .panels
            .iter()
            .filter(|p| p.judge.is_some())
            .map(|p| ScoreInput {
                name: p.def.name.clone(),
                classification: match (&p.error, &p.judge_result) {
                    (None, Some(r)) => r.classification,
                    _ => Classification::NoData,
                },
                weight: p.weight,
                critical: p.critical,
            })
            .collect();
        (!inputs.is_empty()).then(|| score(&inputs, thresholds))
    }

    pub fn budgets(&self) -> Vec<(String, BudgetStatus)> {
        self.slos
            .iter()
            .map(|s| {
                let status = match (&s.error, &s.status) {
                    (None, Some(st)) => st.clone(),
                    _ => BudgetStatus {
                        error_ratio: None,
                        budget_remaining: None,
                        burn_rates: vec![],
                        time_to_exhaustion: None,
                        alert: None,
                    },
                };
                (s.def.name.clone(), status)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::Gate;
    use crate::domain::readiness::StepGate;
    use crate::domain::rollout::tests::{sample_rollout, t0};
    use crate::domain::{MetricDef, Sample, Series, Unit};

    fn series(values: &[(i64, f64)]) -> Series {
        Series::new(
            values
                .iter()
                .map(|(s, v)| Sample {
                    at: t0() + chrono::Duration::seconds(*s),
                    value: *v,
                })
                .collect(),
        )
    }

    /// A rollout on its first step with one gated metric whose canary failed at 60 s only.
    fn rollout_failed_at_60s() -> RolloutModel {
        let def = MetricDef {
            name: "p95".into(),
            unit: Unit::Seconds,
            gate: Gate {
                max_increase_pct: Some(10.0),
                ..Gate::default()
            },
        };
        let mut panel = MetricPanel::new(def, String::new());
        let points = [0, 30, 60, 90, 120];
        panel.series.baseline = series(&points.map(|s| (s, 1.0)));
        panel.series.canary = series(&points.map(|s| (s, if s == 60 { 2.0 } else { 1.0 })));
        let mut model = RolloutModel::new("checkout".into(), vec![panel], Vec::new());
        model.rollout = Some(sample_rollout());
        model
    }

    /// What the gate said of the step, kept with the series, is read while the step is the
    /// one it was worked out for; a step that moved since is worked out again from the series.
    #[test]
    fn the_kept_step_gate_is_read_only_for_its_own_step() {
        let later = t0() + chrono::Duration::seconds(3600);
        let mut model = rollout_failed_at_60s();
        let failed = "p95 failed at";
        let reasons = |m: &RolloutModel| m.readiness(later).expect("readiness").reasons;
        assert!(reasons(&model).iter().any(|r| r.contains(failed)));

        // Kept for this step: read as is (here, a made-up "held" over the failing series).
        model.panels[0].step_gate = Some((t0(), Some(StepGate::Held)));
        assert!(!reasons(&model).iter().any(|r| r.contains(failed)));

        // The next step began at 90 s, after the failure, before any new answer: the kept
        // "failed at 60 s" is the old step's, not this one's.
        let mut model = rollout_failed_at_60s();
        model.panels[0].step_gate = Some((t0(), Some(StepGate::FailedAt(t0()))));
        if let Some(r) = model.rollout.as_mut() {
            r.step = 1;
            r.step_started_at = t0() + chrono::Duration::seconds(90);
        }
        let now = reasons(&model);
        assert!(!now.iter().any(|r| r.contains(failed)), "{now:?}");
    }
}
