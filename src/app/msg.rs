use chrono::{DateTime, Utc};

use crate::backend::{ActionError, ReadError};
use crate::domain::Rollout;
use crate::domain::action::ActionKind;
use crate::metrics::FetchResult;

/// Everything that can happen to the console: keys (already mapped), ticks, and the answers of
/// effects, each tagged with the generation of the request that caused it.
#[derive(Debug, Clone)]
pub enum Msg {
    Tick(DateTime<Utc>),
    /// Something the runtime wants the user to know (e.g. a webhook that failed).
    Notice(crate::app::model::EventLevel, String),
    Quit,
    ToggleHelp,
    CloseOverlay,
    /// Enter: everything about the selected metric.
    OpenDetail,
    /// `e`: the whole event log.
    OpenEvents,
    /// Scroll the open detail or events view.
    Scroll(ScrollTo),
    /// The terminal's size (columns, rows), for how far a view can scroll.
    Resize(u16, u16),
    /// How far the open detail or events view can scroll at the current size, measured by the
    /// terminal loop after it draws (the wrapping is the view's business).
    OverlayMeasured(usize),
    CycleWindow,
    FocusNext,
    FocusPrev,
    /// An action key: opens a confirmation prompt (or says why it can't).
    Request(ActionKind),
    /// `y` on a simple prompt, or Enter on an override prompt.
    Confirmed,
    /// Any other key on a simple prompt: the default answer is No.
    Cancel,
    PromptInput(char),
    PromptBackspace,
    PromptNextField,
    PermissionsFetched {
        /// The rollout asked about, by name.
        rollout: String,
        result: Result<crate::domain::action::Permissions, ReadError>,
    },
    /// The backend's watch saw the rollout (by name) change: re-read it now rather than at the
    /// next poll.
    RolloutChanged(String),
    /// The backend's list of rollouts (the fleet): one not followed yet is added.
    RolloutsListed {
        result: Result<Vec<String>, ReadError>,
    },
    RolloutFetched {
        generation: u64,
        at: DateTime<Utc>,
        result: Result<Rollout, ReadError>,
    },
    /// The whole fleet read in one call (`Effect::FetchFleet`).
    FleetFetched {
        generation: u64,
        at: DateTime<Utc>,
        result: Result<Vec<Rollout>, ReadError>,
    },
    MetricsFetched {
        generation: u64,
        at: DateTime<Utc>,
        result: FetchResult,
    },
    ActionFinished {
        /// The rollout acted on, by name, as the request named it.
        rollout: String,
        kind: ActionKind,
        at: DateTime<Utc>,
        result: Result<Rollout, ActionError>,
        audit_error: Option<String>,
    },
    /// The fleet list: move the selection (by rows, to the top or the bottom).
    FleetSelect(ScrollTo),
    /// `/`: start typing the fleet filter (on a rollout screen of a fleet: back to the list).
    FleetFilterStart,
    FleetFilterInput(char),
    FleetFilterBackspace,
    /// Enter while typing: keep the filter, stop typing.
    FleetFilterKeep,
    /// Esc on the list: clear the filter.
    FleetFilterClear,
    /// Enter on the list: open the selected rollout.
    FleetOpen,
    /// Esc on a rollout screen of a fleet: back to the list.
    FleetShow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrollTo {
    /// Down (positive) or up (negative) by this many rows or events.
    By(isize),
    Top,
    Bottom,
}
