//! The rollout model (the shape of the deploy API's `Rollout`): its state, steps, history and
//! analysis, and what it says about time (holds, ETA). `transitions.rs` is its state machine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::format::{age, humantime_serde, short_duration};

mod transitions;

pub use transitions::TransitionError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    Progressing,
    Paused,
    Completed,
    RolledBack,
    Failed,
}

impl RolloutState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Progressing => "PROGRESSING",
            Self::Paused => "PAUSED",
            Self::Completed => "COMPLETED",
            Self::RolledBack => "ROLLED BACK",
            Self::Failed => "FAILED",
        }
    }

    /// Completed or rolled back: no canary is left to judge, so a metric's NO DATA or
    /// COLLECTING is no news (a FAIL still says why it ended).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::RolledBack)
    }

    /// Terminal states accept no further action but a new rollout.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::RolledBack | Self::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Canary share of traffic at this step, in percent.
    pub weight: u8,
    /// How long the step holds before it may be promoted; `None` for the last step or a manual gate.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "humantime_serde::option"
    )]
    pub hold: Option<Duration>,
}

/// When a step started and ended, so the timeline can say how long each finished step took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub name: String,
    pub state: RolloutState,
    pub stable_version: String,
    pub canary_version: String,
    /// 0-based index into `steps`.
    pub step: usize,
    pub canary_weight: u8,
    pub steps: Vec<Step>,
    pub step_started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who paused it and when (our extension of the API; optional for other backends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<DateTime<Utc>>,
    /// Start and end of each step so far (our extension; optional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StepRecord>,
    /// Pod-template hashes of the stable and canary pods (Argo's `rollouts-pod-template-hash`):
    /// when the config gives no baseline / canary selectors, the PromQL selectors are built from
    /// these (our extension; optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_hash: Option<String>,
    /// The backend's own analysis of this rollout (Argo AnalysisRuns), newest run first, so "why
    /// did it stop" is answered on screen (our extension; optional).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<AnalysisResult>,
    /// What an undo would put back, for its prompt, e.g. "revision 30 (green)" (our extension;
    /// optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_to: Option<String>,
}

/// Where one metric of a backend-run analysis stands (Argo's AnalysisPhase values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisPhase {
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

impl AnalysisPhase {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Successful => "successful",
            Self::Failed => "FAILED",
            Self::Error => "ERROR",
            Self::Inconclusive => "inconclusive",
        }
    }

    /// A phase that stops (or may stop) the rollout: worth an event and a warning colour.
    pub fn is_bad(self) -> bool {
        matches!(self, Self::Failed | Self::Error | Self::Inconclusive)
    }
}

/// One metric of a backend-run analysis, as the backend last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisResult {
    /// The run's name (an AnalysisRun), to tell a step's analysis from a background one.
    pub run: String,
    pub metric: String,
    pub phase: AnalysisPhase,
    /// The latest measurement's value, verbatim (Argo stores it as a string, e.g. "[0.93]").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the latest measurement finished (or started, while it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

/// Time to 100%, or why there is no such time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eta {
    /// The holds are running: this long if every step passes and promotes at once.
    Running(Duration),
    /// The current hold is over but the rollout did not advance.
    Held,
    /// A step without a hold that waits for a manual promote.
    AwaitingPromotion,
    /// Paused by someone: the hold clock is stopped with this much of the holds left.
    Paused {
        holds_left: Duration,
    },
    Completed,
    RolledBack,
    Failed,
}

impl std::fmt::Display for Eta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Running(d) => write!(f, "ETA 100%: {}", short_duration(*d)),
            Self::Held => f.write_str("held — no ETA"),
            Self::AwaitingPromotion => f.write_str("waits for promote — no ETA"),
            Self::Paused { holds_left } if holds_left.is_zero() => {
                f.write_str("paused — no holds left once resumed")
            }
            Self::Paused { holds_left } => write!(
                f,
                "paused — {} of holds left once resumed",
                short_duration(*holds_left)
            ),
            Self::Completed => f.write_str("at 100%"),
            Self::RolledBack => f.write_str("rolled back — no ETA"),
            Self::Failed => f.write_str("failed — no ETA"),
        }
    }
}

impl Rollout {
    pub fn current_step(&self) -> Option<&Step> {
        self.steps.get(self.step)
    }

    pub fn is_last_step(&self) -> bool {
        self.step + 1 >= self.steps.len()
    }

    /// Time left in the current step's hold; `None` when the step has no hold. Frozen while paused.
    pub fn hold_remaining(&self, now: DateTime<Utc>) -> Option<Duration> {
        let hold = self.current_step()?.hold?;
        let until = match (self.state, self.paused_at) {
            (RolloutState::Paused, Some(paused_at)) => paused_at,
            _ => now,
        };
        Some(hold.saturating_sub(age(self.step_started_at, until)))
    }

    /// Time spent in the current step so far.
    pub fn step_elapsed(&self, now: DateTime<Utc>) -> Duration {
        age(self.step_started_at, now)
    }

    /// The holds of the steps after the current one.
    fn later_holds(&self) -> Duration {
        self.steps
            .iter()
            .skip(self.step + 1)
            .filter_map(|s| s.hold)
            .sum()
    }

    /// Sum of the remaining holds: what is left of this one plus every later step's hold.
    pub fn eta_to_full(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.state.is_terminal() {
            return None;
        }
        let current = self.hold_remaining(now).unwrap_or(Duration::ZERO);
        let later = self.later_holds();
        Some(current + later)
    }

    /// Where the way to 100% stands: a countdown only while the holds are running, else why
    /// there is none (a countdown that does not move is a lie on screen).
    pub fn eta(&self, now: DateTime<Utc>) -> Eta {
        let later = self.later_holds();
        let current = self.hold_remaining(now);
        match self.state {
            RolloutState::Completed => Eta::Completed,
            RolloutState::RolledBack => Eta::RolledBack,
            RolloutState::Failed => Eta::Failed,
            RolloutState::Paused => Eta::Paused {
                holds_left: current.unwrap_or(Duration::ZERO) + later,
            },
            // No hold on a step before the last: a manual gate, nothing moves until a promote.
            RolloutState::Progressing if current.is_none() && !self.is_last_step() => {
                Eta::AwaitingPromotion
            }
            // The hold is over and the step did not advance: the controller holds it (analysis)
            // or waits for a promote; either way no clock is running.
            RolloutState::Progressing if current.is_some_and(|d| d.is_zero()) => Eta::Held,
            RolloutState::Progressing => Eta::Running(current.unwrap_or(Duration::ZERO) + later),
        }
    }

    /// How long a finished step took, from the recorded history.
    pub fn step_duration(&self, step: usize) -> Option<Duration> {
        self.history
            .iter()
            .rev()
            .find(|r| r.step == step)
            .and_then(|r| r.finished_at.map(|end| age(r.started_at, end)))
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use chrono::TimeZone;

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
            .single()
            .expect("valid time")
    }

    pub fn sample_rollout() -> Rollout {
        let steps = [
            (5, Some(600)),
            (25, Some(600)),
            (50, Some(1800)),
            (100, None),
        ]
        .into_iter()
        .map(|(weight, hold)| Step {
            weight,
            hold: hold.map(Duration::from_secs),
        })
        .collect();
        Rollout {
            name: "checkout".into(),
            state: RolloutState::Progressing,
            stable_version: "v1.2.2".into(),
            canary_version: "v1.2.3".into(),
            step: 0,
            canary_weight: 5,
            steps,
            step_started_at: t0(),
            message: None,
            paused_by: None,
            paused_at: None,
            history: vec![StepRecord {
                step: 0,
                started_at: t0(),
                finished_at: None,
            }],
            stable_hash: None,
            canary_hash: None,
            analysis: Vec::new(),
            undo_to: None,
        }
    }

    pub fn at(secs: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(secs)
    }

    #[test]
    fn hold_countdown_and_eta() {
        let r = sample_rollout();
        assert_eq!(r.hold_remaining(at(100)), Some(Duration::from_secs(500)));
        // 500s of this hold + 600 + 1800 of the later ones; the last step has no hold.
        assert_eq!(r.eta_to_full(at(100)), Some(Duration::from_secs(2900)));
        assert_eq!(r.hold_remaining(at(900)), Some(Duration::ZERO));
    }

    #[test]
    fn eta_counts_down_only_while_a_hold_runs() {
        let mut r = sample_rollout();
        assert_eq!(r.eta(at(100)), Eta::Running(Duration::from_secs(2900)));
        assert_eq!(r.eta(at(100)).to_string(), "ETA 100%: 48m20s");
        // Hold over, not promoted: a frozen "ETA 100%: 40m" would be a lie.
        assert_eq!(r.eta(at(900)), Eta::Held);
        assert_eq!(r.eta(at(900)).to_string(), "held — no ETA");
        r.pause(0, "alice", at(100)).expect("pause");
        assert_eq!(
            r.eta(at(400)),
            Eta::Paused {
                holds_left: Duration::from_secs(2900)
            }
        );
        assert_eq!(
            r.eta(at(400)).to_string(),
            "paused — 48m20s of holds left once resumed"
        );
        r.rollback(0, "bad", at(500)).expect("rollback");
        assert_eq!(r.eta(at(600)).to_string(), "rolled back — no ETA");
        let mut manual = sample_rollout();
        manual.steps[0].hold = None;
        assert_eq!(manual.eta(at(5)).to_string(), "waits for promote — no ETA");
        let mut done = sample_rollout();
        done.promote(0, at(1)).expect("promote");
        done.promote(1, at(2)).expect("promote");
        done.promote(2, at(3)).expect("promote");
        assert_eq!(done.eta(at(4)), Eta::Completed);
    }

    #[test]
    fn the_api_json_shape_round_trips() {
        let json = r#"{"name": "checkout", "state": "progressing", "stable_version": "v1.2.2",
            "canary_version": "v1.2.3", "step": 1, "canary_weight": 25,
            "steps": [{"weight": 5, "hold": "10m"}, {"weight": 25, "hold": "10m"}, {"weight": 50, "hold": "30m"}, {"weight": 100}],
            "step_started_at": "2026-11-23T09:30:00Z", "message": "optional"}"#;
        let r: Rollout = serde_json::from_str(json).expect("parses the documented shape");
        assert_eq!(r.steps[2].hold, Some(Duration::from_secs(1800)));
        assert_eq!(r.steps[3].hold, None);
        let back: Rollout =
            serde_json::from_str(&serde_json::to_string(&r).expect("ser")).expect("de");
        assert_eq!(back, r);
    }
}
