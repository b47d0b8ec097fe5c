//! How a rollout is polled: request generations and in-flight flags (`Polls`), and the track
//! selectors made from its pod-template hashes (`PodHashTracks`).

use chrono::{DateTime, Utc};

use crate::domain::Rollout;

/// Request generations and in-flight flags of the two pollers. Generations are unique over the
/// whole console (`Model::next_generation`), so an answer finds its rollout by its generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polls {
    pub rollout_generation: u64,
    pub rollout_in_flight: bool,
    pub rollout_started: Option<DateTime<Utc>>,
    /// When the first read was sent (a read retried does not move it).
    pub first_read_asked: Option<DateTime<Utc>>,
    pub metrics_generation: u64,
    /// How many metrics polls were sent (a rollout that never answers is failing after a few).
    pub metrics_asked: u64,
    pub metrics_in_flight: bool,
    /// A metrics answer (good or not) has come in: before it, the row says it is reading.
    pub metrics_answered: bool,
    pub metrics_started: Option<DateTime<Utc>>,
    /// When a fleet row's next metrics poll is due, on the step grid (`poll::next_row_poll`);
    /// `None`: one `poll_interval` after the last was sent (the rollout on screen).
    pub metrics_next_at: Option<DateTime<Utc>>,
    /// When the SLO windows last answered (paced by `Model::slo_refresh`).
    pub slos_answered: Option<DateTime<Utc>>,
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
