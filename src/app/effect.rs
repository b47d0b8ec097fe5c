use crate::audit::AuditRecord;
use crate::backend::ActionRequest;
use crate::metrics::FetchRequest;

/// Work for the runtime: the only way `update` reaches the network or the disk.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    FetchRollout {
        generation: u64,
        name: String,
    },
    /// Read every rollout of the fleet in one call (a backend that `reads_fleet_whole`): the
    /// rows whose read carries `generation` take their rollout from the answer.
    FetchFleet {
        generation: u64,
    },
    /// Ask once which actions this user may take (RBAC), so forbidden keys show disabled.
    FetchPermissions {
        name: String,
    },
    /// Ask the backend once to watch the rollout (Argo): its changes come back as
    /// `Msg::RolloutChanged`. Backends that cannot watch are polled only.
    WatchRollout {
        name: String,
    },
    FetchMetrics {
        generation: u64,
        request: FetchRequest,
        /// The rollout's metrics have not answered yet: its first poll reads whole histories
        /// and may wait behind a fleet's first grouped reads, so it is given longer.
        first: bool,
    },
    /// Run a control action, then write its receipt (fsynced) before reporting the result.
    Act {
        request: ActionRequest,
        receipt: Box<AuditRecord>,
    },
    /// Ask the backend which rollouts there are (the fleet): answered by `Msg::RolloutsListed`.
    ListRollouts,
    /// Append a receipt that follows up an earlier one (an UNKNOWN outcome resolved by a read).
    Audit {
        receipt: Box<AuditRecord>,
    },
}
