//! The console's state. The view reads it; only `update` changes it.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

use crate::domain::action::ActionKind;
use crate::domain::format::age;
use crate::domain::judge::{
    Classification, JudgeResult, JudgeSettings, Score, ScoreInput, ScoreThresholds, score,
};
use crate::domain::sequential::{Decision, SequentialResult, SequentialSettings};
use crate::domain::{
    BudgetStatus, GateEvaluation, MetricDef, Rollout, RolloutState, Severity, SloDef, Verdict,
};
use crate::metrics::source::Selectors;
use crate::metrics::template::{self, Vars};
use crate::metrics::{Counters, TrackSeries, Tracks};

/// How many poll intervals without a good sample make a panel STALE.
pub const STALE_AFTER_POLLS: u32 = 3;
const MAX_EVENTS: usize = 200;

/// What the console was started with; fixed for its lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rollout_name: String,
    pub read_only: bool,
    pub poll_interval: Duration,
    pub min_budget_to_promote_pct: f64,
    /// `$USER@host`.
    pub actor: String,
    pub ssh_client: Option<String>,
    /// e.g. "simulator (healthy, seed 7)".
    pub source_label: String,
    /// Where receipts go, for the help overlay.
    pub audit_path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartWindow {
    M5,
    M15,
    H1,
}

impl ChartWindow {
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Self::M5 => 300,
            Self::M15 => 900,
            Self::H1 => 3600,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1h",
        }
    }

    pub fn next(self) -> Self {
        match self {
            Self::M5 => Self::M15,
            Self::M15 => Self::H1,
            Self::H1 => Self::M5,
        }
    }
}

/// Whether a panel's numbers can be trusted right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Freshness {
    Live,
    /// The last query failed; the numbers shown are older.
    Error(String),
    /// No good sample for STALE_AFTER_POLLS intervals.
    Stale {
        age: Duration,
        why: String,
    },
    /// Nothing received yet.
    Waiting,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricPanel {
    pub def: MetricDef,
    pub query: String,
    pub window: Option<Duration>,
    /// The statistical judge, when configured, and its last result.
    pub judge: Option<JudgeSettings>,
    pub judge_result: Option<JudgeResult>,
    /// The raw counters behind the metric (the sequential judge's input; a gate's
    /// `min_requests`).
    pub counters: Option<Counters>,
    /// The sequential judge, when configured, and its last result on the counts.
    pub sequential: Option<SequentialSettings>,
    pub sequential_result: Option<SequentialResult>,
    /// A FAIL stays for the canary version it was found on: `(version, result)`.
    pub sticky_fail: Option<(String, SequentialResult)>,
    /// The last count query failed.
    pub counts_error: Option<String>,
    /// Where counting starts, and whether that is the canary's whole life (`true`) or only the
    /// current step (all the backend knows).
    pub counted_since: Option<(DateTime<Utc>, bool)>,
    /// In the judge's score: a HIGH/LOW on a critical metric fails the canary; weight of the
    /// metric. A critical sequential FAIL advises a rollback (else it holds).
    pub critical: bool,
    pub weight: f64,
    pub series: TrackSeries,
    pub eval: Option<GateEvaluation>,
    pub last_good: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Why the last answer had no series for a track, when the source could tell.
    pub empty: Option<crate::domain::metric::EmptyAnswer>,
    /// The queries of the last poll as sent, `(what, query)`, for the detail view.
    pub sent_queries: Vec<(String, String)>,
}

impl MetricPanel {
    pub fn new(def: MetricDef, query: String) -> Self {
        Self {
            def,
            query,
            window: None,
            judge: None,
            judge_result: None,
            counters: None,
            sequential: None,
            sequential_result: None,
            sticky_fail: None,
            counts_error: None,
            counted_since: None,
            critical: false,
            weight: 1.0,
            series: TrackSeries::default(),
            eval: None,
            last_good: None,
            error: None,
            empty: None,
            sent_queries: Vec::new(),
        }
    }

    /// The queries a poll sends for this metric, rendered as Prometheus gets them: per track,
    /// and the sequential judge's counters. Without selectors (the simulator) nothing is
    /// rendered: the simulator answers the query by name.
    pub fn rendered_queries(
        &self,
        selectors: Option<&Selectors>,
        tracks: Option<&Tracks>,
    ) -> Vec<(String, String)> {
        let counters: Vec<(&str, &str)> = match &self.counters {
            Some(Counters::Histogram(buckets)) => vec![("buckets", buckets.as_str())],
            Some(Counters::Ratio { errors, total }) => {
                vec![("errors", errors.as_str()), ("total", total.as_str())]
            }
            None => Vec::new(),
        };
        let Some(sel) = selectors else {
            let mut out = vec![("simulator series".to_string(), self.query.clone())];
            out.extend(
                counters
                    .iter()
                    .map(|(what, q)| (format!("simulator {what}"), q.to_string())),
            );
            return out;
        };
        let (baseline, canary) = tracks.map_or((sel.baseline.as_str(), sel.canary.as_str()), |t| {
            (t.baseline.as_str(), t.canary.as_str())
        });
        let render = |template: &str, selector: &str, window: Option<Duration>| {
            if selector.trim().is_empty() {
                return format!("(not sent: {})", crate::metrics::source::NO_TRACKS_YET);
            }
            let nonempty = |s: &str| !s.trim().is_empty();
            let vars = Vars {
                selector: Some(selector),
                service: Some(sel.service.as_str()).filter(|s| nonempty(s)),
                window,
                rollout: Some(sel.rollout.as_str()).filter(|s| nonempty(s)),
            };
            template::render(template, &vars).unwrap_or_else(|e| format!("(not sent: {e})"))
        };
        let window = Some(
            self.window
                .unwrap_or(crate::metrics::source::DEFAULT_WINDOW),
        );
        let mut out = Vec::new();
        for (track, selector) in [("baseline", baseline), ("canary", canary)] {
            out.push((track.to_string(), render(&self.query, selector, window)));
        }
        // Counters are read raw (no `$window`), as the source sends them.
        for (what, template) in &counters {
            for (track, selector) in [("baseline", baseline), ("canary", canary)] {
                out.push((format!("{track} {what}"), render(template, selector, None)));
            }
        }
        out
    }

    /// The verdict shown: a panel without a current good answer is NO DATA, never its old PASS.
    pub fn verdict(&self) -> Verdict {
        let gate = match (&self.error, &self.eval) {
            (Some(_), _) | (None, None) => Verdict::NoData,
            (None, Some(e)) => e.verdict,
        };
        let gate = match (gate, self.judge_verdict()) {
            (Verdict::NoData, _) | (_, None) => gate,
            (gate, Some(judged)) => worst(gate, judged),
        };
        match self.sequential_verdict() {
            Some(sequential) => worst(gate, sequential),
            None => gate,
        }
    }

    /// The sequential result to show: the newest, unless a FAIL found on this canary version
    /// is no longer in it (the counts changed under it): a FAIL stays.
    pub fn sequential_shown(&self) -> Option<&SequentialResult> {
        self.sequential?;
        let current = self.sequential_result.as_ref();
        match (current, &self.sticky_fail) {
            (Some(r), _) if r.decision == Decision::Fail => Some(r),
            (_, Some((_, failed))) => Some(failed),
            (r, None) => r,
        }
    }

    /// The sequential judge's verdict, when this metric has one: NO DATA until counts arrive or
    /// when the count query fails; COLLECTING until it decides.
    pub fn sequential_verdict(&self) -> Option<Verdict> {
        self.sequential?;
        if self.counts_error.is_some() {
            return Some(Verdict::NoData);
        }
        let Some(r) = self.sequential_shown() else {
            return Some(Verdict::NoData);
        };
        Some(match r.decision {
            Decision::Fail if self.def.gate.severity == Severity::Warn => Verdict::Warn,
            Decision::Fail => Verdict::Fail,
            Decision::Pass => Verdict::Pass,
            Decision::Collecting => Verdict::Collecting,
        })
    }

    /// The sequential judge in words, for reasons and prompts.
    pub fn sequential_reason(&self) -> Option<String> {
        self.sequential?;
        let scope = match self.counted_since {
            Some((_, false)) => {
                " (counted over the current step only: the backend reports no \
                                 earlier steps)"
            }
            _ => "",
        };
        Some(match (&self.counts_error, self.sequential_shown()) {
            (Some(e), _) => format!("counting requests failed: {e}"),
            (None, Some(r)) => format!("{}{scope}", r.reason),
            (None, None) => "waiting for the first request counts".into(),
        })
    }

    /// How bad a FAIL of this panel is: a sequential FAIL advises a rollback on a critical
    /// metric, a hold otherwise; a gate's FAIL has its own severity.
    pub fn severity(&self) -> Severity {
        let gate = self.def.gate.severity;
        let sequential_failed = self.sequential_verdict() == Some(Verdict::Fail);
        let gate_failed = self
            .eval
            .as_ref()
            .is_some_and(|e| e.verdict == Verdict::Fail);
        match gate {
            Severity::Warn => Severity::Warn,
            _ if sequential_failed && !gate_failed && self.critical => Severity::Rollback,
            _ if sequential_failed && !gate_failed => Severity::Hold,
            _ if sequential_failed && self.critical => Severity::Rollback,
            gate => gate,
        }
    }

    /// The statistical judge's verdict, when this metric has one. Too few samples is PENDING
    /// (data is there, the judge needs more of it), not NO DATA.
    pub fn judge_verdict(&self) -> Option<Verdict> {
        self.judge?;
        let result = self.judge_result.as_ref()?;
        Some(match result.classification {
            Classification::High | Classification::Low
                if self.def.gate.severity == Severity::Warn =>
            {
                Verdict::Warn
            }
            Classification::High | Classification::Low => Verdict::Fail,
            Classification::Pass => Verdict::Pass,
            Classification::NoData => Verdict::Pending,
        })
    }

    pub fn freshness(&self, now: DateTime<Utc>, poll: Duration) -> Freshness {
        freshness(self.last_good, self.error.as_deref(), now, poll)
    }

    /// The reason in words, for the panel and the prompts: what decided the verdict first.
    pub fn reason(&self) -> String {
        let mut parts = match (&self.error, &self.eval) {
            (Some(e), _) => vec![format!("query failed: {e}")],
            (None, Some(e)) => {
                let mut parts = Vec::new();
                if self.def.gate.has_checks() && !e.reasons.is_empty() {
                    parts.push(e.reasons.join("; "));
                }
                if let Some(j) = self.judge_result.as_ref().filter(|_| self.judge.is_some()) {
                    // The clause that decides goes first: a one-line view cuts the end.
                    let judge_decided = self
                        .judge_verdict()
                        .is_some_and(|v| v != e.verdict && worst(e.verdict, v) == v);
                    let at = if judge_decided { 0 } else { parts.len() };
                    parts.insert(at, format!("judge: {}", j.reason));
                }
                if parts.is_empty() {
                    parts.extend(e.reasons.first().cloned());
                }
                parts
            }
            (None, None) => vec!["waiting for the first answer".into()],
        };
        if let Some(text) = self.sequential_reason() {
            let decided = self.sequential_verdict() == Some(self.verdict());
            let at = if decided || !self.def.gate.has_checks() {
                0
            } else {
                parts.len()
            };
            parts.insert(at, text);
        }
        parts.join("; ")
    }
}

/// The verdict that blocks most: FAIL, then NO DATA, PENDING, COLLECTING, WARN, PASS.
pub fn worst(a: Verdict, b: Verdict) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Fail => 5,
        Verdict::NoData => 4,
        Verdict::Pending => 3,
        Verdict::Collecting => 2,
        Verdict::Warn => 1,
        Verdict::Pass => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

fn freshness(
    last_good: Option<DateTime<Utc>>,
    error: Option<&str>,
    now: DateTime<Utc>,
    poll: Duration,
) -> Freshness {
    let stale_after = poll * STALE_AFTER_POLLS;
    match (last_good, error) {
        (Some(t), err) if age(t, now) > stale_after => Freshness::Stale {
            age: age(t, now),
            why: err.map_or_else(|| "no new samples".to_string(), str::to_string),
        },
        (None, Some(err)) => Freshness::Error(err.to_string()),
        (_, Some(err)) => Freshness::Error(err.to_string()),
        (Some(_), None) => Freshness::Live,
        (None, None) => Freshness::Waiting,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SloPanel {
    pub def: SloDef,
    pub query: String,
    pub status: Option<BudgetStatus>,
    pub last_good: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl SloPanel {
    pub fn new(def: SloDef, query: String) -> Self {
        Self {
            def,
            query,
            status: None,
            last_good: None,
            error: None,
        }
    }

    pub fn freshness(&self, now: DateTime<Utc>, poll: Duration) -> Freshness {
        freshness(self.last_good, self.error.as_deref(), now, poll)
    }
}

/// How a line reads: good news, neutral, a warning or bad news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    Good,
    #[default]
    Neutral,
    Warn,
    Bad,
}

/// What the view shows that is worked out from the rest of the model. `update` refreshes it at
/// the end of every call (`derived::refresh_derived`), so the view only reads fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Derived {
    /// The "why" line: where the rollout is and why, in words.
    pub why: (Tone, String),
    /// Whether the current step may be promoted; `None` without a rollout.
    pub readiness: Option<crate::domain::readiness::Readiness>,
    /// The statistical judge's score; `None` when no metric has a judge.
    pub judge_score: Option<Score>,
    /// The judge is still short of data (see `Model::judge_collecting`).
    pub judge_collecting: bool,
    /// How long the action in flight has been running.
    pub in_flight_for: Option<Duration>,
    /// The keys that work right now, for the footer: (key, what it does).
    pub footer_keys: Vec<(&'static str, String)>,
    /// The fleet list's rows, most urgent first, after the filter (`app::fleet`); empty on a
    /// console that follows one rollout.
    pub fleet_rows: Vec<FleetRow>,
    /// Rows per rank over the whole fleet (before the filter), most urgent first.
    pub fleet_counts: Vec<(crate::domain::attention::Attention, usize)>,
}

/// The fleet list's own state: which row is selected, the filter, and whether the list is on
/// screen (a console with one rollout never shows it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetView {
    /// The selected rollout, as its index in `Model::rollouts` (so a row that changes rank keeps
    /// the selection rather than handing it to whatever row moved under the cursor).
    pub selected: usize,
    /// Matched against name, namespace and the state's words; empty = every row.
    pub filter: String,
    /// `/` was pressed and the filter is being typed.
    pub typing: bool,
    /// The list is on screen (rather than one rollout).
    pub shown: bool,
}

/// The worst error budget of a rollout's SLOs, for its row.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetCell {
    /// The SLO with the least budget left (or the first without an answer).
    pub slo: String,
    /// Fraction left (1.0 = untouched); `None` when an SLO has no answer: never shown as fine.
    pub left: Option<f64>,
    /// The worst burn-rate alert of any SLO.
    pub alert: Option<crate::domain::slo::Alert>,
    /// Whether any burn rate was measured (without one, "no alert" means "not measured").
    pub burn_measured: bool,
}

/// What one row of the fleet list shows, worked out from a `RolloutModel` at `now`
/// (`app::fleet` fills it; the view only lays it out).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    /// Index in `Model::rollouts`.
    pub index: usize,
    pub name: String,
    /// From a `namespace/name` rollout name.
    pub namespace: Option<String>,
    pub rank: crate::domain::attention::Attention,
    /// The state as the last good read said it; `None` before one.
    pub state: Option<RolloutState>,
    /// Set when the last read failed (the state above is then the last known one).
    pub read_error: Option<String>,
    /// (1-based step, steps, canary weight %).
    pub step: Option<(usize, usize, u8)>,
    /// The worst metric verdict, the metric that has it and its index in `panels`; `None` when
    /// the rollout has no metrics.
    pub worst: Option<(Verdict, String, usize)>,
    /// The judges' verdict in words: the sequential summary, or the Mann–Whitney score.
    pub judge: Option<(Tone, String)>,
    pub budget: Option<BudgetCell>,
    /// The hold countdown, or why there is none.
    pub hold: String,
    /// Who paused it and how long ago.
    pub paused: Option<(String, Option<Duration>)>,
    /// The last action: the action status, or the newest action event, with its age.
    pub last_action: Option<(Option<Duration>, String)>,
    /// What the attention sort used.
    pub facts: crate::domain::attention::AttentionFacts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLevel {
    Info,
    Good,
    Warn,
    Bad,
    Action,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptField {
    Name,
    Reason,
}

/// A confirmation prompt: the action as data, plus what the user saw when it opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub action: ActionKind,
    pub rollout: String,
    pub seen_step: usize,
    pub seen_state: RolloutState,
    pub from_weight: u8,
    pub to: Option<(usize, u8)>,
    /// Metric name, verdict and reason at the moment the prompt opened.
    pub verdicts: Vec<(String, Verdict, String)>,
    /// Why this needs an override; empty for a plain `y`.
    pub blockers: Vec<String>,
    pub typed_name: String,
    pub reason: String,
    pub field: PromptField,
    /// Set when the rollout changed under the open prompt: `y` then does nothing.
    pub moved_on: Option<String>,
    /// A rollback opened while the rollout could not be read: the read's error. The step and
    /// state above are then the last known (or none), and the rollback goes without a step check.
    pub state_unknown: Option<String>,
    pub error: Option<String>,
}

impl Prompt {
    pub fn needs_override(&self) -> bool {
        !self.blockers.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Confirm(Box<Prompt>),
    /// Everything about one metric (by index into `panels`), scrolled down `scroll` rows.
    Detail {
        metric: usize,
        scroll: usize,
    },
    /// The whole event log, from the `scroll`-th newest event.
    Events {
        scroll: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    pub kind: ActionKind,
    pub since: DateTime<Utc>,
}

/// An action the backend may or may not have applied (its answer was lost): the next good read
/// of the rollout decides it, and a follow-up receipt resolves the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub kind: ActionKind,
    pub seen_step: usize,
    pub seen_state: RolloutState,
    pub seen_canary: String,
    /// The receipt sent with the action (its `id` is what the follow-up resolves).
    pub receipt: Box<crate::audit::AuditRecord>,
}

/// Request generations and in-flight flags of the two pollers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polls {
    pub rollout_generation: u64,
    pub rollout_in_flight: bool,
    pub rollout_started: Option<DateTime<Utc>>,
    pub metrics_generation: u64,
    pub metrics_in_flight: bool,
    pub metrics_started: Option<DateTime<Utc>>,
    pub queries_last_poll: usize,
    pub permissions_asked: bool,
    /// The backend was asked once to watch the rollout (Argo); its changes trigger a re-read.
    pub watch_asked: bool,
}

/// PromQL track selectors built from the rollout's pod-template hashes (Argo's
/// `rollouts-pod-template-hash`), used when the config names no baseline / canary selectors.
#[derive(Debug, Clone, PartialEq)]
pub struct PodHashTracks {
    /// The label as Prometheus stores it, e.g. `rollouts_pod_template_hash`.
    pub label: String,
    /// The service's matchers, ANDed with the hash (may be empty).
    pub service: String,
}

impl PodHashTracks {
    /// Baseline = the stable pods, canary = the canary pods; `None` until both hashes are known.
    pub fn tracks(&self, rollout: Option<&Rollout>) -> Option<crate::metrics::Tracks> {
        let r = rollout?;
        let select = |hash: &Option<String>| {
            let hash = hash.as_deref().filter(|h| !h.is_empty())?;
            let own = crate::metrics::template::matchers(&[(self.label.as_str(), hash)]);
            Some(match self.service.trim() {
                "" => own,
                service => format!("{service}, {own}"),
            })
        };
        Some(crate::metrics::Tracks {
            baseline: select(&r.stable_hash)?,
            canary: select(&r.canary_hash)?,
        })
    }
}

/// What the console knows and shows of one rollout: its answers, panels, events, polls and the
/// action in flight. The model holds one per rollout (the fleet is a list of them).
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutModel {
    /// The rollout's name as the backend knows it.
    pub name: String,
    pub rollout: Option<Rollout>,
    pub rollout_error: Option<String>,
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
    /// What this user may not do (asked once at start); `None` until answered.
    pub permissions: Option<crate::domain::action::Permissions>,
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
    /// The index in `rollouts` of the rollout on screen.
    pub open: usize,
    /// The fleet list (shown only when the console follows more than one rollout).
    pub fleet: FleetView,
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
            permissions: None,
            actions: ActionKind::BASIC.to_vec(),
            query_selectors: None,
            screen: (80, 24),
            overlay_last_scroll: usize::MAX,
            derived: Derived::default(),
            quit: false,
            rollouts: vec![RolloutModel::new(name, panels, slos)],
            open: 0,
            fleet: FleetView::default(),
        }
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

    /// How far back a poll must reach: the chart window, or the whole current step when longer
    /// (readiness is judged over the hold), at most 6 hours.
    pub fn lookback(&self) -> Duration {
        let step = self.current().rollout.as_ref().map_or(Duration::ZERO, |r| {
            r.step_elapsed(self.now) + self.settings.poll_interval * 2
        });
        self.chart_window
            .duration()
            .max(step.min(Duration::from_secs(6 * 3600)))
    }

    /// Each sequential metric's share of `[judge] alpha`.
    pub fn sequential_alpha_per_metric(&self) -> f64 {
        let n = self
            .current()
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
                .is_some_and(|_| self.polls.metrics_generation > u64::from(STALE_AFTER_POLLS)),
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
        use crate::domain::readiness::{GateSeries, readiness};
        let r = self.rollout.as_ref()?;
        let gates: Vec<GateSeries> = self
            .panels
            .iter()
            .map(|p| GateSeries {
                name: &p.def.name,
                unit: p.def.unit,
                gate: &p.def.gate,
                baseline: &p.series.baseline,
                canary: &p.series.canary,
            })
            .collect();
        let mut ready = readiness(r, &gates, now);
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

    /// How far back a poll must reach: the chart window, or the whole current step when longer
    /// (readiness is judged over the hold), at most 6 hours.
    /// Each sequential metric's share of `[judge] alpha`.
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
