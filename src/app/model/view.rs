//! What the view shows that `update` works out once per call (`Derived`), and the `Tone` of a
//! line.

use std::time::Duration;

use crate::domain::judge::Score;

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
    /// The same without the lead the header already shows (`ROLLED BACK`), for a narrow screen.
    pub why_short: Option<String>,
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
    pub fleet_rows: Vec<super::FleetRow>,
    /// Rows per rank over the whole fleet (before the filter), most urgent first.
    pub fleet_counts: Vec<(crate::domain::attention::Attention, usize)>,
    /// Every rollout's rank (by index in `Model::rollouts`, before the filter), for the rank
    /// changes `update` reports.
    pub fleet_ranks: Vec<(usize, crate::domain::attention::Attention)>,
}
