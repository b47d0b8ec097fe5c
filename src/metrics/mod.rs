//! Metrics sources: where baseline and canary series, request counts and SLO error ratios come
//! from. The [`MetricsSource`] trait is implemented by the simulator (`sim::source`) and by
//! Prometheus (and compatible engines): `client` (HTTP, auth, TLS), `refusal` (a refused
//! or failed request in words naming what to fix), `decode` (the API's answers,
//! `PromError`), `source` (the `PrometheusSource`: per-track queries, raw counters, why an answer
//! is empty), `counts` (exact counts from raw counters), `names` and `template` (query
//! templating).

pub mod blocks;
pub mod budget;
pub mod client;
pub mod counter_group;
pub mod counts;
pub mod decode;
pub mod dense;
pub mod diagnose;
pub mod group_ranges;
pub mod grouped;
pub mod member_selectors;
mod names;
pub mod range_cache;
mod refusal;
pub mod rules;
pub mod sent;
pub mod source;
pub mod tally;
pub mod template;
#[cfg(test)]
mod test_stub;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::domain::Series;
use crate::domain::counts::Counts;
use crate::domain::slo::SloMeasurement;

pub use budget::Priority;

/// One gated metric to fetch: its name and the query that produces it for each track.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub name: String,
    pub query: String,
    /// The `$window` of the query (e.g. the `[1m]` of a rate); the source's default when `None`.
    pub window: Option<Duration>,
    /// Raw counters to count requests from, for the sequential judge (and a gate's
    /// `min_requests`); `None` when the metric has none.
    pub counts: Option<CountsQuery>,
}

/// The raw counters behind a metric, counted per track between evaluation points.
#[derive(Debug, Clone, PartialEq)]
pub enum Counters {
    /// The `_bucket` series of a latency histogram, e.g.
    /// `http_request_duration_seconds_bucket{$selector}`: cumulative by `le`, in seconds.
    Histogram(String),
    /// Two counters: failed requests and all requests.
    Ratio { errors: String, total: String },
}

/// What to count and since when: one range query per counter per track over `[since, now]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CountsQuery {
    pub counters: Counters,
    /// The start of the canary's life (its first step), or of the current step when that is all
    /// the backend knows.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SloQuery {
    pub name: String,
    pub error_ratio: String,
    pub window: Duration,
    /// Recorded series by window label, read instead of `error_ratio` over that window:
    /// templates whose `$window` is the label as Prometheus writes it (`5m`, `1d`, `30d`, `4w`).
    pub recorded: Vec<(String, String)>,
}

/// One poll: every series over `[now - lookback, now]` at `step`.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchRequest {
    pub now: DateTime<Utc>,
    pub lookback: Duration,
    pub step: Duration,
    pub metrics: Vec<MetricQuery>,
    pub slos: Vec<SloQuery>,
    /// Track selectors for this poll, overriding the configured ones (built from the rollout's
    /// pod-template hashes when the config names none).
    pub tracks: Option<Tracks>,
    /// Who the poll is for: its queries wait their turn in the query budget at this priority.
    pub priority: Priority,
    /// The rollout this poll is for, when the console follows several (the fleet): its name
    /// picks the simulator's member, its selectors replace the source's configured ones.
    pub rollout: Option<ForRollout>,
}

/// The rollout a poll is for, and its own selectors (`None`: the source's configured ones).
#[derive(Debug, Clone, PartialEq)]
pub struct ForRollout {
    pub name: String,
    pub selectors: Option<source::Selectors>,
    /// Set when its metrics may be asked for the whole fleet at once (`[fleet] group_by`).
    pub group: Option<Box<Group>>,
}

/// A fleet whose series carry the rollout's name in one label and the track's pod-template hash
/// in another: one grouped query per metric answers every member (`metrics::grouped`).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The label holding the rollout's name, e.g. `rollout`.
    pub label: String,
    /// The pod-template-hash label, e.g. `rollouts_pod_template_hash`.
    pub hash_label: String,
    /// `[fleet] service`, with `$rollout`: the fleet's selector is made from it
    /// (`grouped::members_selector`).
    pub service: String,
    /// Every member's label value (its bare name), in a stable order.
    pub members: Vec<String>,
    /// This rollout's label value and its two tracks' hashes.
    pub member: String,
    pub stable_hash: String,
    pub canary_hash: String,
    /// The range every member's poll asks for (the longest of theirs), so that they share one.
    pub lookback: Duration,
    /// How long the fleet's SLO answer serves every member (`Model::slo_interval`).
    pub slo_fresh_for: Duration,
    /// Where each member's raw counters are counted from (`CountsQuery::since`), in the order
    /// of `members`; `None` until its rollout is read. The members on the same grid spacing
    /// share one read per counter (`counter_group`).
    pub counted_since: Vec<Option<DateTime<Utc>>>,
    /// Read the metrics and SLO windows from the fleet's recording rules (`metrics::rules`)
    /// instead of asking their queries.
    pub recorded: bool,
}

impl Group {
    /// The fleet's labels, as its recording rules are written (`metrics::rules`).
    pub fn fleet(&self) -> rules::Fleet<'_> {
        rules::Fleet {
            label: &self.label,
            hash_label: &self.hash_label,
            service: &self.service,
        }
    }
}

/// Label matchers for the two tracks, e.g. `job="checkout", rollouts_pod_template_hash="6d4f8b9c7"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracks {
    pub baseline: String,
    pub canary: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackSeries {
    pub baseline: Series,
    pub canary: Series,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchResult {
    /// By metric name, in request order; an error is per metric, never for the whole poll.
    pub metrics: Vec<(String, Result<TrackSeries, String>)>,
    pub slos: Vec<(String, Result<SloMeasurement, String>)>,
    /// By metric name, for the metrics that asked for counts.
    pub counts: Vec<(String, Result<Counts, String>)>,
    pub warnings: Vec<String>,
    /// By metric name, why a query that answered with no series for a track did: one lookup
    /// per change of the query (sources that cannot tell leave it empty).
    pub empty: Vec<(String, EmptyAnswer)>,
    /// How many queries this poll sent (for the debug log and the budget of one per metric per track).
    pub queries: usize,
    /// Samples the engine touched answering this poll's queries, summed (`[prometheus]
    /// query_stats`; `None` when not asked for or the engine does not say, e.g. VictoriaMetrics).
    pub samples_touched: Option<u64>,
}

// What an empty answer means is the domain's to say; the source finds it out.
pub use crate::domain::metric::{EmptyAnswer, EmptyTrack};

#[async_trait]
pub trait MetricsSource: Send + Sync {
    fn describe(&self) -> String;
    async fn fetch(&self, request: &FetchRequest) -> FetchResult;
}
