//! The panels: a metric's and an SLO's state as the view shows it, whether its numbers can be
//! trusted now (`Freshness`), and which verdict blocks most (`worst`).

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::domain::format::age;
use crate::domain::judge::{Classification, JudgeResult, JudgeSettings};
use crate::domain::readiness::StepGate;
use crate::domain::sequential::{Decision, SequentialResult, SequentialSettings};
use crate::domain::{BudgetStatus, GateEvaluation, MetricDef, Severity, SloDef, Verdict};
use crate::metrics::source::Selectors;
use crate::metrics::{Counters, TrackSeries, Tracks};

/// How many poll intervals without a good sample make a panel STALE.
pub const STALE_AFTER_POLLS: u32 = 3;

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
    /// The rollout had ended (completed, rolled back) when the counts last answered: the judge
    /// has its final word, and the counts are not asked again until the rollout moves (a
    /// fleet's finished rows would otherwise keep every raw series of their canary's life).
    pub counted_to_the_end: bool,
    /// The rollout had ended at the last count: counters are read a poll step behind, so the
    /// count after it is the one that reaches the end.
    pub ended_at_last_count: bool,
    /// In the judge's score: a HIGH/LOW on a critical metric fails the canary; weight of the
    /// metric. A critical sequential FAIL advises a rollback (else it holds).
    pub critical: bool,
    pub weight: f64,
    pub series: TrackSeries,
    /// What the gate says of the step that began at the time given, from `series` (worked out
    /// when they are set: a fleet's rows ask for it every second).
    pub step_gate: Option<(DateTime<Utc>, Option<StepGate>)>,
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
            counted_to_the_end: false,
            ended_at_last_count: false,
            critical: false,
            weight: 1.0,
            series: TrackSeries::default(),
            step_gate: None,
            eval: None,
            last_good: None,
            error: None,
            empty: None,
            sent_queries: Vec::new(),
        }
    }

    /// The queries of this metric for each track as the source sends them, for the detail view
    /// (the metrics layer renders PromQL; the model only asks).
    pub fn rendered_queries(
        &self,
        selectors: Option<&Selectors>,
        tracks: Option<&Tracks>,
    ) -> Vec<(String, String)> {
        crate::metrics::sent::queries_as_sent(
            &self.query,
            self.window,
            self.counters.as_ref(),
            selectors,
            tracks,
        )
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

pub(super) fn freshness(
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
