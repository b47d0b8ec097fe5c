//! The `MetricsSource` on Prometheus: each poll's queries per metric, track and SLO window,
//! their answers as series and ratios, and why an answer is empty. Counting raw counters is in
//! `counters`, the SLO windows in `slos`, why an answer is empty in `empty`.

mod counters;
mod empty;
mod grouped;
mod grouped_counters;
mod grouped_slos;
mod slos;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::budget::Priority;
use super::client::PrometheusClient;
use super::decode::{PromError, QueryData, Response};
use super::range_cache::{Plan, Range, RangeCache};
use super::template::{self, Vars};
use super::{
    CountsQuery, EmptyAnswer, EmptyTrack, FetchRequest, FetchResult, MetricQuery, MetricsSource,
    TrackSeries,
};
use crate::domain::Series;

/// `$window` of a metric query that does not set one.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Label matchers and names the templates are filled with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selectors {
    /// Raw matchers for the baseline track, e.g. `job="checkout", track="baseline"`.
    pub baseline: String,
    pub canary: String,
    /// Raw matchers for the whole service (SLOs).
    pub service: String,
    /// The rollout name, a value (escaped on the way in).
    pub rollout: String,
}

/// A metric's error while the track selectors come from pod-template hashes not read yet.
pub const NO_TRACKS_YET: &str = "no baseline/canary selector yet: waiting for the rollout's \
    pod-template hashes from the backend (or set baseline and canary in [[rollouts]])";

#[derive(Debug)]
pub struct PrometheusSource {
    /// Shared by every rollout of a fleet, so that its limits (queries in flight, queries a
    /// second) hold for the whole console.
    client: std::sync::Arc<PrometheusClient>,
    selectors: Selectors,
    /// What was found behind empty answers, by the rendered query looked into (`explain`'s
    /// words, or the coarse name lookup). Asked once per query; forgotten once it has data.
    empty_lookups: std::sync::Mutex<std::collections::HashMap<String, empty::Known>>,
    /// The range answers so far: each poll asks only for what is new.
    ranges: RangeCache,
    /// The fleet's grouped answers of the current step (`[fleet] group_by`).
    groups: grouped::GroupCache,
    /// Raw counters read so far: each poll reads only the points since the last.
    counter_points: counters::CounterPoints,
    /// The fleet's raw counters read so far (`[fleet] group_by`): one read per step for all.
    counter_groups: grouped_counters::CounterGroups,
    /// The fleet's SLO answers, while fresh (`[fleet] group_by`).
    slo_groups: grouped_slos::SloGroups,
    /// One answer for the whole fleet (a grouped range's piece, a grouped counter's part) is
    /// read and laid at a time: a megabyte of JSON and as much decoded each, the first poll's
    /// several at once were most of the console's peak memory.
    fleet_reads: tokio::sync::Semaphore,
    /// The fleet members' selector, built once per member list.
    member_selectors: crate::metrics::member_selectors::MemberSelectors,
}

/// One metric's or SLO's share of a poll.
struct Outcome<T> {
    result: Result<T, String>,
    warnings: Vec<String>,
    queries: usize,
    /// Points asked for by its range queries (the cost the range cache keeps down).
    points: u64,
    /// Samples the engine touched answering it, when asked for and told.
    samples: Option<u64>,
}

impl<T> Outcome<T> {
    fn failed(error: String) -> Self {
        Self {
            result: Err(error),
            warnings: Vec::new(),
            queries: 0,
            points: 0,
            samples: None,
        }
    }
}

/// The samples touched by the answers that say, summed (`None` when none says).
fn samples_touched<'a>(
    responses: impl IntoIterator<Item = &'a Result<Response, PromError>>,
) -> Option<u64> {
    responses
        .into_iter()
        .filter_map(|r| r.as_ref().ok()?.samples_touched)
        .reduce(u64::saturating_add)
}

/// Adds one share's samples touched to a running total; unknown stays unknown.
fn add_samples(into: &mut Option<u64>, more: Option<u64>) {
    if let Some(more) = more {
        *into = Some(into.unwrap_or(0).saturating_add(more));
    }
}

/// A template's variables for one track (`selector`) of the rollout `sel` describes.
fn vars<'a>(sel: &'a Selectors, selector: &'a str, window: Duration) -> Vars<'a> {
    let set = |s: &'a str| Some(s).filter(|s| !s.trim().is_empty());
    Vars {
        selector: set(selector),
        service: set(&sel.service),
        window: Some(window),
        rollout: set(&sel.rollout),
    }
}

impl PrometheusSource {
    pub fn new(client: PrometheusClient, selectors: Selectors) -> Self {
        Self::shared(std::sync::Arc::new(client), selectors)
    }

    /// A source for one rollout on a client the console's other sources share.
    pub fn shared(client: std::sync::Arc<PrometheusClient>, selectors: Selectors) -> Self {
        Self {
            client,
            selectors,
            empty_lookups: Default::default(),
            ranges: RangeCache::default(),
            groups: Default::default(),
            counter_points: Default::default(),
            counter_groups: Default::default(),
            slo_groups: Default::default(),
            fleet_reads: tokio::sync::Semaphore::new(1),
            member_selectors: Default::default(),
        }
    }

    pub fn client(&self) -> &PrometheusClient {
        &self.client
    }

    /// The selectors a poll renders with: the rollout's own (a fleet), else the configured ones.
    fn selectors_for<'a>(&'a self, request: &'a FetchRequest) -> &'a Selectors {
        request
            .rollout
            .as_ref()
            .and_then(|r| r.selectors.as_ref())
            .unwrap_or(&self.selectors)
    }

    async fn fetch_metric(
        &self,
        (priority, sel, now): (Priority, &Selectors, DateTime<Utc>),
        query: &MetricQuery,
        (baseline, canary): (&str, &str),
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> (Outcome<TrackSeries>, Option<EmptyAnswer>) {
        let window = query.window.unwrap_or(DEFAULT_WINDOW);
        let render = |selector: &str| template::render(&query.query, &vars(sel, selector, window));
        let (baseline, canary) = match (render(baseline), render(canary)) {
            (Ok(b), Ok(c)) => (b, c),
            (Err(_), _) | (_, Err(_)) if baseline.trim().is_empty() || canary.trim().is_empty() => {
                return (Outcome::failed(NO_TRACKS_YET.into()), None);
            }
            (Err(e), _) | (_, Err(e)) => return (Outcome::failed(e), None),
        };
        let range = Range {
            start_ms: start.timestamp_millis(),
            end_ms: end.timestamp_millis(),
            step_ms: i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1),
        };
        let (baseline_plan, canary_plan) = (
            self.ranges.plan(&baseline, range),
            self.ranges.plan(&canary, range),
        );
        let (baseline_answer, canary_answer) = futures::join!(
            self.query_plan(priority, &baseline, baseline_plan, step),
            self.query_plan(priority, &canary, canary_plan, step),
        );
        let samples = samples_touched([&baseline_answer, &canary_answer]);
        let points = u64::try_from(baseline_plan.points() + canary_plan.points()).unwrap_or(0);
        let mut warnings = Vec::new();
        let result = match (baseline_answer, canary_answer) {
            // Prometheus down: say it once, not once per track.
            (Err(b), Err(c)) if b == c => Err(b.to_string()),
            (baseline_answer, canary_answer) => {
                let baseline = one_series(baseline_answer, "baseline", &mut warnings)
                    .map(|s| self.ranges.merge(&baseline, baseline_plan, s));
                let canary = one_series(canary_answer, "canary", &mut warnings)
                    .map(|s| self.ranges.merge(&canary, canary_plan, s));
                match (baseline, canary) {
                    (Ok(baseline), Ok(canary)) => Ok(TrackSeries { baseline, canary }),
                    (Err(b), Err(c)) => Err(format!("{b}; {c}")),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
        };
        let empty = match &result {
            Ok(t) => {
                let track = match (t.baseline.is_empty(), t.canary.is_empty()) {
                    (true, true) => Some(EmptyTrack::Both),
                    (true, false) => Some(EmptyTrack::Baseline),
                    (false, true) => Some(EmptyTrack::Canary),
                    (false, false) => None,
                };
                // Looked into as of now, not the aligned `end`: a series born since is not missing.
                self.why_empty(priority, (&baseline, &canary), track, now)
                    .await
            }
            Err(_) => None,
        };
        let outcome = Outcome {
            result,
            warnings,
            queries: 2,
            points,
            samples,
        };
        (outcome, empty)
    }

    /// The part of a range query the cache does not hold yet.
    async fn query_plan(
        &self,
        priority: Priority,
        promql: &str,
        plan: Plan,
        step: Duration,
    ) -> Result<Response, PromError> {
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        tracing::trace!(points = plan.points(), full = plan.is_full(), "range query");
        self.client
            .query_range_with(
                priority,
                promql,
                at(plan.from_ms),
                at(plan.range.end_ms),
                step,
            )
            .await
    }
}

/// A range answer as one track's series: one series, or none (no data yet).
fn one_series(
    response: Result<Response, PromError>,
    track: &str,
    warnings: &mut Vec<String>,
) -> Result<Series, String> {
    let response = response.map_err(|e| format!("{track} query: {e}"))?;
    warnings.extend(response.warnings);
    match response.data {
        QueryData::Matrix(mut series) => match series.len() {
            0 => Ok(Series::default()),
            1 => Ok(Series::new(
                series.pop().map(|(_, s)| s).unwrap_or_default(),
            )),
            n => Err(format!(
                "query returned {n} series for the {track}; aggregate it (e.g. sum(...) or sum by (...))"
            )),
        },
        QueryData::Vector(_) | QueryData::Scalar(_) => Err(format!(
            "{track} query: expected a range result (matrix) from query_range"
        )),
    }
}

/// Each API warning once per poll, in the order first seen.
fn merge_warnings(into: &mut Vec<String>, warnings: Vec<String>) {
    for w in warnings {
        if !into.contains(&w) {
            into.push(w);
        }
    }
}

/// `at` rounded down to a whole `step` since the epoch, so every range query shares timestamps.
fn align_down(at_ms: i64, step_ms: i64) -> DateTime<Utc> {
    let ms = at_ms.div_euclid(step_ms) * step_ms;
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[async_trait]
impl MetricsSource for PrometheusSource {
    fn describe(&self) -> String {
        format!("Prometheus at {}", self.client.url())
    }

    async fn fetch(&self, request: &FetchRequest) -> FetchResult {
        let step_ms = i64::try_from(request.step.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let step = Duration::from_millis(step_ms.unsigned_abs());
        let now_ms = request.now.timestamp_millis();
        let lookback_ms = i64::try_from(request.lookback.as_millis()).unwrap_or(i64::MAX);
        let end = align_down(now_ms, step_ms);
        let start = align_down(now_ms.saturating_sub(lookback_ms), step_ms);

        let sel = self.selectors_for(request);
        let poll = (request.priority, sel);
        let tracks = match &request.tracks {
            Some(t) => (t.baseline.as_str(), t.canary.as_str()),
            None => (sel.baseline.as_str(), sel.canary.as_str()),
        };
        let group = request.rollout.as_ref().and_then(|r| r.group.as_ref());
        let metrics = join_all(request.metrics.iter().map(|q| async move {
            if let Some(group) = group {
                // The fleet's range, the same for every member, so that they share one answer.
                let lookback_ms = i64::try_from(group.lookback.as_millis()).unwrap_or(i64::MAX);
                let own_ms = end.timestamp_millis() - start.timestamp_millis();
                let from = align_down(now_ms.saturating_sub(lookback_ms.max(own_ms)), step_ms);
                if let Some(done) = self
                    .fetch_grouped(request.priority, q, group, (from, start, end, step))
                    .await
                {
                    return done;
                }
            }
            self.fetch_metric(
                (request.priority, sel, request.now),
                q,
                tracks,
                start,
                end,
                step,
            )
            .await
        }));
        let slos = join_all(request.slos.iter().map(|s| async move {
            if let Some(group) = group
                && let Some(done) = self
                    .fetch_grouped_slo(request.priority, s, group, request.now)
                    .await
            {
                return done;
            }
            self.fetch_slo(poll, s, request.now).await
        }));
        let counted: Vec<(&MetricQuery, &CountsQuery)> = request
            .metrics
            .iter()
            .filter_map(|q| Some((q, q.counts.as_ref()?)))
            .collect();
        let counts = join_all(counted.iter().map(|(q, c)| {
            self.fetch_counts(
                poll,
                (q, c, group.map(|g| &**g)),
                tracks,
                request.now,
                request.step,
            )
        }));
        let (metrics, slos, counts) = futures::join!(metrics, slos, counts);
        // A range no poll asks for any more (new pod-template hashes, a query edited) goes.
        self.ranges.forget_older_than(start.timestamp_millis());
        self.counter_points
            .forget_older_than(start.timestamp_millis());
        self.counter_groups
            .forget_older_than(start.timestamp_millis());

        let mut result = FetchResult::default();
        let mut points = 0;
        for (query, (outcome, empty)) in request.metrics.iter().zip(metrics) {
            result.queries += outcome.queries;
            points += outcome.points;
            add_samples(&mut result.samples_touched, outcome.samples);
            if let Some(why) = empty {
                result.empty.push((query.name.clone(), why));
            }
            merge_warnings(&mut result.warnings, outcome.warnings);
            result.metrics.push((query.name.clone(), outcome.result));
        }
        for (slo, outcome) in request.slos.iter().zip(slos) {
            result.queries += outcome.queries;
            add_samples(&mut result.samples_touched, outcome.samples);
            merge_warnings(&mut result.warnings, outcome.warnings);
            result.slos.push((slo.name.clone(), outcome.result));
        }
        for ((query, _), outcome) in counted.iter().zip(counts) {
            result.queries += outcome.queries;
            points += outcome.points;
            add_samples(&mut result.samples_touched, outcome.samples);
            merge_warnings(&mut result.warnings, outcome.warnings);
            result.counts.push((query.name.clone(), outcome.result));
        }
        tracing::debug!(
            priority = ?request.priority,
            queries = result.queries,
            range_points = points,
            samples_touched = ?result.samples_touched,
            metrics = result.metrics.len(),
            slos = result.slos.len(),
            counts = result.counts.len(),
            warnings = result.warnings.len(),
            // Every query let through so far (incl. the name lookups behind empty answers),
            // per priority: open, attention, background.
            budget_taken = ?self.client.budget().taken().map(|(_, n)| n),
            "prometheus poll"
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SloQuery;
    use crate::metrics::test_stub::{BASELINE, CANARY, client, metric, source, success, t};

    use crate::metrics::test_stub::{Reply, Seen, reply, stub};
    use serde_json::json;

    use tokio::net::TcpListener;

    // ---- Helpers ----

    pub(super) fn vector(value: &str) -> String {
        success(json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1_700_000_000, value]}
        ]}))
    }

    // ---- The metrics source ----

    /// One point per step over the requested range, valued by track.
    fn range_answer(seen: &Seen, series: usize, warn: bool) -> Reply {
        let param = |k: &str| seen.param(k).parse::<f64>().expect("number param");
        let (start, end, step) = (param("start"), param("end"), param("step"));
        let canary = seen.param("query").contains("canary");
        let mut values = Vec::new();
        let mut at = start;
        while at <= end {
            let v = if at == start {
                "NaN".to_string()
            } else if canary {
                "0.2".to_string()
            } else {
                "0.1".to_string()
            };
            values.push(json!([at, v]));
            at += step;
        }
        let result: Vec<_> = (0..series)
            .map(|i| json!({"metric": {"pod": format!("p{i}")}, "values": values}))
            .collect();
        let mut body =
            json!({"status": "success", "data": {"resultType": "matrix", "result": result}});
        if warn {
            body["warnings"] = json!(["partial response: store-1 unreachable"]);
        }
        reply(200, body)
    }

    #[tokio::test]
    async fn fetch_maps_one_none_and_many_series_per_metric() {
        let server = stub(|seen| {
            let q = seen.param("query");
            if q.starts_with("latency") {
                range_answer(seen, 1, true)
            } else if q.starts_with("empty") {
                range_answer(seen, 0, true)
            } else if q.starts_with("by_pod") && q.contains("canary") {
                range_answer(seen, 3, false)
            } else if q.starts_with("by_pod") {
                range_answer(seen, 1, false)
            } else {
                reply(
                    400,
                    json!({"status": "error", "errorType": "bad_data", "error": "nope"}),
                )
            }
        })
        .await;
        let src = source(&server.url("/"));
        let request = FetchRequest {
            now: DateTime::from_timestamp_millis(1_700_000_017_500).expect("now"),
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![
                MetricQuery {
                    window: Some(Duration::from_secs(90)),
                    ..metric("p95", "latency{$selector}[$window]")
                },
                metric("rps", "empty{$selector}[$window]"),
                metric("errors", "by_pod{$selector}"),
                metric("typo", "latency{$selectr}"),
                metric("broken", "broken{$selector}"),
            ],
            slos: vec![],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let result = src.fetch(&request).await;

        let names: Vec<&str> = result.metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p95", "rps", "errors", "typo", "broken"]);

        let p95 = result.metrics[0].1.as_ref().expect("p95");
        assert_eq!(p95.baseline.points.len(), 41);
        let at = |s: &Series| s.points.iter().map(|p| p.at).collect::<Vec<_>>();
        assert_eq!(at(&p95.baseline), at(&p95.canary));
        assert!(p95.canary.points[0].value.is_nan());
        assert_eq!(p95.canary.points[1].value, 0.2);
        assert_eq!(p95.baseline.points[1].value, 0.1);

        let rps = result.metrics[1].1.as_ref().expect("rps");
        assert!(rps.baseline.is_empty() && rps.canary.is_empty());

        let errors = result.metrics[2].1.as_ref().expect_err("many series");
        assert_eq!(
            errors,
            "query returned 3 series for the canary; aggregate it (e.g. sum(...) or sum by (...))"
        );

        let typo = result.metrics[3].1.as_ref().expect_err("typo");
        assert!(typo.contains("$selectr"), "{typo}");

        let broken = result.metrics[4].1.as_ref().expect_err("broken");
        assert_eq!(
            broken,
            "nope (Prometheus rejected the query; HTTP 400, bad_data)"
        );

        // Two per metric that rendered; none for the typo.
        assert_eq!(result.queries, 8);
        assert_eq!(result.warnings, ["partial response: store-1 unreachable"]);

        // Plus the lookups behind the empty answer (not in the per-poll budget): the
        // diagnosis's first, refused, then one name lookup, refused too.
        let seen = server.seen();
        assert_eq!(seen.len(), 10);
        let p95_queries: Vec<&str> = seen
            .iter()
            .map(|s| s.param("query"))
            .filter(|q| q.starts_with("latency"))
            .collect();
        assert!(p95_queries.contains(&format!("latency{{{BASELINE}}}[1m30s]").as_str()));
        assert!(p95_queries.contains(&format!("latency{{{CANARY}}}[1m30s]").as_str()));
        let rps_query = seen
            .iter()
            .map(|s| s.param("query"))
            .find(|q| q.starts_with("empty"))
            .expect("rps sent");
        assert!(rps_query.ends_with("[1m]"), "default window: {rps_query}");
        let ranges: Vec<_> = seen
            .iter()
            .filter(|s| !s.param("query").starts_with("count("))
            .filter(|s| !s.path.ends_with("/label/__name__/values"))
            .collect();
        assert_eq!(ranges.len(), 8);
        for s in ranges {
            assert_eq!(s.path, "/api/v1/query_range");
            // Aligned to the step, the same for every query.
            assert_eq!(s.param("start"), "1699999410");
            assert_eq!(s.param("end"), "1700000010");
            assert_eq!(s.param("step"), "15");
        }
    }

    #[tokio::test]
    async fn the_next_poll_asks_only_for_the_new_points_and_gives_the_whole_window() {
        let server = stub(|seen| {
            let param = |k: &str| seen.param(k).parse::<f64>().expect("number param");
            let (mut at, end, step) = (param("start"), param("end"), param("step"));
            let mut values = Vec::new();
            while at <= end {
                values.push(json!([at, format!("{}", at - 1_700_000_000.0)]));
                at += step;
            }
            reply(
                200,
                success(
                    json!({"resultType": "matrix", "result": [{"metric": {}, "values": values}]}),
                ),
            )
        })
        .await;
        let src = source(&server.url("/"));
        let mut request = FetchRequest {
            now: t(1_700_000_000),
            lookback: Duration::from_secs(300),
            step: Duration::from_secs(15),
            metrics: vec![metric("latency", "latency{$selector}")],
            slos: vec![],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let first = src.fetch(&request).await;
        request.now = t(1_700_000_030);
        let second = src.fetch(&request).await;
        let starts: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("start").to_string())
            .collect();
        // Two tracks per poll: the whole 5 minutes first, then from the last point fetched.
        assert_eq!(
            starts,
            ["1699999695", "1699999695", "1699999995", "1699999995"]
        );
        let points = |r: &FetchResult| r.metrics[0].1.as_ref().expect("series").canary.points.len();
        assert_eq!(points(&first), 21);
        assert_eq!(points(&second), 21, "the window slid by two steps");
        let canary = &second.metrics[0].1.as_ref().expect("series").canary;
        assert_eq!(canary.points.first().map(|p| p.value), Some(-275.0));
        assert_eq!(canary.points.last().map(|p| p.value), Some(25.0));
    }

    #[tokio::test]
    async fn per_poll_tracks_replace_the_selectors_and_missing_ones_say_why() {
        let server = stub(|_| {
            reply(
                200,
                success(json!({"resultType": "matrix", "result": [
                    {"metric": {}, "values": [[1_700_000_000, "1"]]}
                ]})),
            )
        })
        .await;
        // Pod-hash mode: nothing configured for the tracks.
        let src = PrometheusSource::new(
            client(&server.url("")),
            Selectors {
                baseline: String::new(),
                canary: String::new(),
                service: r#"job="checkout""#.into(),
                rollout: "checkout".into(),
            },
        );
        let mut request = FetchRequest {
            now: t(1_700_000_000),
            lookback: Duration::from_secs(60),
            step: Duration::from_secs(15),
            metrics: vec![metric("p95", "latency{$selector}")],
            slos: vec![],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let waiting = src.fetch(&request).await;
        assert_eq!(
            waiting.metrics[0].1.as_ref().expect_err("no tracks yet"),
            NO_TRACKS_YET
        );
        assert!(server.seen().is_empty(), "nothing is guessed or sent");

        request.tracks = Some(crate::metrics::Tracks {
            baseline: r#"rollouts_pod_template_hash="5f7c9d6b8""#.into(),
            canary: r#"rollouts_pod_template_hash="7b9f4c6d5""#.into(),
        });
        let answered = src.fetch(&request).await;
        assert!(answered.metrics[0].1.is_ok(), "{answered:?}");
        let mut queries: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("query").to_string())
            .collect();
        queries.sort();
        assert_eq!(
            queries,
            [
                r#"latency{rollouts_pod_template_hash="5f7c9d6b8"}"#,
                r#"latency{rollouts_pod_template_hash="7b9f4c6d5"}"#
            ]
        );
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_fails_each_metric_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let src = source(&format!("http://{addr}"));
        assert_eq!(src.describe(), format!("Prometheus at http://{addr}"));
        let result = src
            .fetch(&FetchRequest {
                now: t(1_700_000_000),
                lookback: Duration::from_secs(60),
                step: Duration::from_secs(15),
                metrics: vec![MetricQuery {
                    counts: Some(crate::metrics::CountsQuery {
                        counters: crate::metrics::Counters::Ratio {
                            errors: r#"errors{$selector}"#.into(),
                            total: r#"total{$selector}"#.into(),
                        },
                        since: t(1_700_000_000 - 60),
                    }),
                    ..metric("p95", "latency{$selector}")
                }],
                slos: vec![],
                tracks: None,
                priority: crate::metrics::Priority::Open,
                rollout: None,
            })
            .await;
        let err = result.metrics[0].1.as_ref().expect_err("down");
        assert!(
            err.starts_with("cannot reach Prometheus at http://"),
            "{err}"
        );
        assert!(!err.contains("baseline"), "reported once: {err}");
        let counts = result.counts[0].1.as_ref().expect_err("down");
        assert!(
            counts.starts_with("cannot reach Prometheus at http://") && !counts.contains(';'),
            "reported once: {counts}"
        );
        assert_eq!(result.queries, 2 + 4);
    }

    /// With `query_stats`, each answer's samples touched are summed over the poll.
    #[tokio::test]
    async fn samples_touched_are_summed_per_poll() {
        let server = stub(|seen| {
            let mut answer = if seen.path.ends_with("query_range") {
                range_answer(seen, 1, false)
            } else {
                reply(200, vector("0.001"))
            };
            if seen.param("stats") == "all" {
                let mut body: serde_json::Value = serde_json::from_str(&answer.body).expect("json");
                body["data"]["stats"] = json!({"samples": {"totalQueryableSamples": 10}});
                answer.body = body.to_string();
            }
            answer
        })
        .await;
        let request = FetchRequest {
            now: t(1_700_000_000),
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![metric("p95", "latency{$selector}")],
            slos: vec![SloQuery {
                name: "availability".into(),
                error_ratio: "errors{$service}[$window]".into(),
                window: Duration::from_secs(30 * 86_400),
                recorded: Vec::new(),
            }],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let plain = source(&server.url("")).fetch(&request).await;
        assert_eq!(plain.queries, 10);
        assert_eq!(plain.samples_touched, None);

        let settings = crate::metrics::client::PrometheusSettings {
            query_stats: true,
            ..crate::metrics::test_stub::config(&server.url(""))
        };
        let with_stats = PrometheusSource::new(
            crate::metrics::client::PrometheusClient::new(&settings).expect("client"),
            Selectors {
                baseline: BASELINE.into(),
                canary: CANARY.into(),
                service: r#"job="checkout""#.into(),
                rollout: "checkout".into(),
            },
        );
        let result = with_stats.fetch(&request).await;
        assert_eq!(result.queries, 10);
        assert_eq!(result.samples_touched, Some(100));
    }
}
