//! The fleet list's state (`FleetView`: selection, filter, shown) and what one of its rows shows
//! (`FleetRow`, filled by `app::fleet`; the view only lays it out).

use std::time::Duration;

use super::view::Tone;
use crate::domain::{RolloutState, Verdict};

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
    /// The user chose the selection (moved it, or came back from a rollout): until then it
    /// follows the top row, the most urgent, as ranks settle.
    pub chosen: bool,
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
    /// The SLO without an answer failed to be read (an error or a timeout), rather than
    /// having no data.
    pub failed: bool,
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
    pub read_error: Option<crate::backend::ReadError>,
    /// (1-based step, steps, canary weight %).
    pub step: Option<(usize, usize, u8)>,
    /// The worst metric verdict, the metric that has it and its index in `panels`; `None` when
    /// the rollout has no metrics.
    pub worst: Option<(Verdict, String, usize)>,
    /// The worst verdict is NO DATA because the metric's last query failed (an error or a
    /// timeout), not because Prometheus has no series: the row says ERR, the panel says why.
    pub worst_failed: bool,
    /// The metrics have answered once: before, the verdict and budget are not known yet (not
    /// NO DATA: nothing was asked of Prometheus yet, or it is still answering).
    pub metrics_read: bool,
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
