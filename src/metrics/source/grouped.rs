//! A metric asked for the whole fleet at once (`[fleet] group_by`): one grouped range query per
//! metric and step (`metrics::grouped` rewrites the query and splits the answer), kept and
//! extended step by step (`metrics::group_ranges`); every member reads its tracks from it.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::{DEFAULT_WINDOW, Outcome, PrometheusSource, add_samples, samples_touched};
use crate::metrics::budget::Priority;
use crate::metrics::decode::QueryData;
use crate::metrics::group_ranges::{Ask, GroupRanges, Staged};
use crate::metrics::grouped::{by_member, rewrite};
use crate::metrics::range_cache::{MAX_POINTS_PER_QUERY, Range};
use crate::metrics::rules::{DIGEST_LABEL, metric_rule};
use crate::metrics::template::{self, Vars};
use crate::metrics::{EmptyAnswer, EmptyTrack, Group, MetricQuery, TrackSeries};

/// The fleet's grouped answers, one per query. Held while a query is in flight: the other
/// members' polls of that step wait for it and read its answer instead of asking again.
pub(super) type GroupCache = tokio::sync::Mutex<GroupRanges>;

impl PrometheusSource {
    /// The metric for `group.member` from the fleet's grouped answer at `end`, asked over the
    /// fleet's range from `start` and cut to the member's own from `own_start` (a row does not
    /// keep the open rollout's longer chart window); `None` when the metric cannot be grouped
    /// (its query is asked per rollout then).
    pub(super) async fn fetch_grouped(
        &self,
        priority: Priority,
        query: &MetricQuery,
        group: &Group,
        (start, own_start, end, step): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, Duration),
    ) -> Option<(Outcome<TrackSeries>, Option<EmptyAnswer>)> {
        if group.stable_hash.is_empty() || group.canary_hash.is_empty() {
            return None;
        }
        let window = query.window.unwrap_or(DEFAULT_WINDOW);
        let (promql, record) = if group.recorded {
            // The rule's digest is of the query this would have sent: a stale rule reads nothing.
            let rule = metric_rule(group.fleet(), &query.name, &query.query, window).ok()?;
            (rule.read(&group.label, &group.members), Some(rule))
        } else {
            let grouped = rewrite(&query.query, &[&group.label, &group.hash_label])?;
            let members =
                self.member_selectors
                    .get(&group.service, &group.label, &group.members)?;
            let vars = Vars {
                selector: Some(&members),
                service: Some(&members),
                window: Some(window),
                // A query naming its own rollout cannot be asked for all of them.
                rollout: None,
            };
            (template::render(&grouped, &vars).ok()?, None)
        };
        let range = Range {
            start_ms: start.timestamp_millis(),
            end_ms: end.timestamp_millis(),
            step_ms: i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1),
        };
        let mut groups = self.groups.lock().await;
        let (failed, queries, points, samples) = match groups.ask(&promql, range) {
            Ask::Held => (None, 0, 0, None),
            Ask::Failed(why) => (Some(why), 0, 0, None),
            Ask::Fetch(plan) => {
                let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or(start);
                tracing::trace!(
                    points = plan.points(),
                    full = plan.is_full(),
                    "grouped query"
                );
                // A long read goes in pieces, oldest first, each answered in time.
                let pieces = plan.pieces(MAX_POINTS_PER_QUERY);
                let mut got: Result<Staged, String> = Ok(Staged::new(&plan));
                let mut samples = None;
                let mut asked = 0;
                for (from_ms, to_ms) in pieces {
                    let Ok(kept) = got.as_mut() else { break };
                    // Released once the piece is laid over, at the loop's end.
                    let _one_at_a_time = self.fleet_reads.acquire().await.ok();
                    let response = self
                        .client
                        .query_range_with(priority, &promql, at(from_ms), at(to_ms), step)
                        .await;
                    asked += 1;
                    add_samples(&mut samples, samples_touched([&response]));
                    let piece = match response {
                        Ok(r) => match r.data {
                            QueryData::Matrix(series) => {
                                by_member(series, &group.label, &group.hash_label)
                            }
                            _ => Err("grouped query: expected a range result (matrix)".into()),
                        },
                        Err(e) => Err(format!("grouped query: {e}")),
                    };
                    match piece {
                        Ok(piece) => kept.lay(piece),
                        Err(why) => got = Err(why),
                    }
                }
                let failed = got.as_ref().err().cloned();
                groups.answer(&promql, plan, got);
                let points = u64::try_from(plan.points()).unwrap_or(0);
                (failed, asked, points, samples)
            }
        };
        let own = Range {
            start_ms: own_start.timestamp_millis().max(range.start_ms),
            ..range
        };
        let result = match failed {
            Some(why) => Err(why),
            None => Ok(TrackSeries {
                baseline: groups.pick(&promql, own, &group.member, &group.stable_hash),
                canary: groups.pick(&promql, own, &group.member, &group.canary_hash),
            }),
        };
        // A recorded answer with no member at all: the rules are not loaded, or older than the
        // config. Said on the panel, in what to do.
        let empty = record
            .filter(|_| result.is_ok() && groups.members_answered(&promql, range.step_ms) == 0)
            .map(|rule| EmptyAnswer::Diagnosed {
                track: EmptyTrack::Both,
                words: vec![format!(
                    "load the rules `rollout-console rules` writes into Prometheus (again \
                     after a metric's query or window changed): no rollout has a series of \
                     {}{{{DIGEST_LABEL}=\"{}\"}}, the recording rule of this query",
                    rule.record, rule.digest
                )],
            });
        // A query no member asked for over a whole range (the members changed) goes.
        groups.forget_older_than(range.start_ms);
        drop(groups);
        let outcome = Outcome {
            result,
            warnings: Vec::new(),
            queries,
            points,
            samples,
        };
        Some((outcome, empty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_stub::{fleet_member, metric, reply, source, stub, success, t};
    use crate::metrics::{FetchRequest, MetricsSource, Priority};
    use serde_json::json;

    /// A grouped answer: `values` for both tracks (`s`, `c`) of both members (`a`, `b`).
    fn both_members(values: &serde_json::Value) -> crate::metrics::test_stub::Reply {
        let result = [("a", "s"), ("a", "c"), ("b", "s"), ("b", "c")]
            .map(|(r, h)| json!({"metric": {"rollout": r, "hash": h}, "values": values}));
        reply(
            200,
            success(json!({"resultType": "matrix", "result": result})),
        )
    }

    fn request(member: &str) -> FetchRequest {
        FetchRequest {
            now: t(1_700_000_100),
            lookback: Duration::from_secs(60),
            step: Duration::from_secs(10),
            metrics: vec![metric("rate", "sum(rate(x{$selector}[$window]))")],
            slos: vec![],
            tracks: None,
            priority: Priority::Open,
            rollout: Some(fleet_member(
                &["a", "b"],
                member,
                ("s", "c"),
                "rollout=\"$rollout\", env=\"prod\"",
            )),
        }
    }

    #[tokio::test]
    async fn one_query_a_step_serves_every_member() {
        let server =
            stub(|_| both_members(&json!([[1_700_000_090, "1"], [1_700_000_100, "2"]]))).await;
        let src = source(&server.url(""));
        let a = src.fetch(&request("a")).await;
        assert_eq!(a.queries, 1);
        let b = src.fetch(&request("b")).await;
        assert_eq!(b.queries, 0, "b reads a's answer");
        let canary = b.metrics[0].1.as_ref().map(|s| s.canary.points.len());
        assert_eq!(canary, Ok(2));
        assert_eq!(server.seen().len(), 1);
        assert_eq!(
            server.seen()[0].param("query"),
            r#"sum by (rollout, hash) (rate(x{rollout=~"a|b", env="prod"}[1m]))"#
        );
    }

    #[tokio::test]
    async fn the_fleet_is_asked_over_its_range_and_each_member_gets_its_own() {
        let server = stub(|seen| {
            let param = |k: &str| seen.param(k).parse::<i64>().expect("whole seconds");
            let values: Vec<_> = (param("start")..=param("end"))
                .step_by(10)
                .map(|at| json!([at, "1"]))
                .collect();
            both_members(&json!(values))
        })
        .await;
        let src = source(&server.url(""));
        let mut poll = request("a");
        poll.lookback = Duration::from_secs(30);
        if let Some(group) = poll.rollout.as_mut().and_then(|r| r.group.as_mut()) {
            // Another member (the open one) asks for two minutes.
            group.lookback = Duration::from_secs(120);
        }
        let a = src.fetch(&poll).await;
        // Now (1_700_000_100) less the fleet's two minutes.
        assert_eq!(server.seen()[0].param("start"), "1699999980");
        let points = a.metrics[0].1.as_ref().map(|s| s.canary.points.len());
        assert_eq!(
            points,
            Ok(4),
            "30 s at 10 s steps, not the fleet's 2 minutes"
        );
    }

    #[tokio::test]
    async fn a_recorded_fleet_reads_the_rule_and_says_when_no_rule_answers() {
        let server = stub(|seen| {
            if seen.param("query").starts_with("rollout_console:rate{") {
                reply(200, success(json!({"resultType": "matrix", "result": []})))
            } else {
                both_members(&json!([[1_700_000_100, "1"]]))
            }
        })
        .await;
        let src = source(&server.url(""));
        let mut poll = request("a");
        if let Some(group) = poll.rollout.as_mut().and_then(|r| r.group.as_mut()) {
            group.recorded = true;
        }
        let a = src.fetch(&poll).await;
        assert_eq!(a.queries, 1);
        let sent = server.seen()[0].param("query").to_string();
        assert!(
            sent.starts_with(r#"rollout_console:rate{rollout=~"a|b", rollout_console_query=""#),
            "{sent}"
        );
        let words = match a.empty.first() {
            Some((
                _,
                EmptyAnswer::Diagnosed {
                    track: EmptyTrack::Both,
                    words,
                },
            )) => words.join(" "),
            other => panic!("{other:?}"),
        };
        assert!(words.contains("rollout-console rules"), "{words}");
    }

    #[tokio::test]
    async fn the_next_step_asks_from_the_last_point_and_members_get_the_whole_range() {
        let server = stub(|seen| {
            let param = |k: &str| seen.param(k).parse::<i64>().expect("whole seconds");
            let (from, end) = (param("start"), param("end"));
            let values: Vec<_> = (from..=end)
                .step_by(10)
                .map(|at| json!([at, format!("{}", at - 1_700_000_000)]))
                .collect();
            both_members(&json!(values))
        })
        .await;
        let src = source(&server.url(""));
        src.fetch(&request("a")).await;
        let mut later = request("b");
        later.now = t(1_700_000_120);
        let b = src.fetch(&later).await;
        let starts: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("start").to_string())
            .collect();
        assert_eq!(starts, ["1700000040", "1700000100"]);
        assert_eq!(b.queries, 1);
        let canary = b.metrics[0].1.as_ref().map(|s| {
            let values: Vec<f64> = s.canary.points.iter().map(|p| p.value).collect();
            values
        });
        assert_eq!(
            canary,
            Ok(vec![60.0, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0])
        );
    }

    #[tokio::test]
    async fn the_fleets_answers_are_read_one_at_a_time() {
        use std::sync::{Arc, Mutex};
        use std::time::Instant;
        const DELAY: Duration = Duration::from_millis(150);
        let arrivals: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let seen = arrivals.clone();
        let server = stub(move |request| {
            let query = request.param("query").to_string();
            seen.lock().expect("arrivals").push((Instant::now(), query));
            let param = |k: &str| request.param(k).parse::<i64>().unwrap_or(0);
            let values: Vec<_> = (param("start")..=param("end"))
                .step_by(10)
                .map(|at| json!([at, "1"]))
                .collect();
            crate::metrics::test_stub::Reply {
                delay: DELAY,
                ..both_members(&json!(values))
            }
        })
        .await;
        let src = source(&server.url(""));
        let mut poll = request("a");
        poll.metrics = vec![crate::metrics::MetricQuery {
            counts: Some(crate::metrics::CountsQuery {
                counters: crate::metrics::Counters::Ratio {
                    errors: "errors_total{$selector}".into(),
                    total: "requests_total{$selector}".into(),
                },
                since: t(1_700_000_000),
            }),
            ..metric("error rate", "sum(rate(x{$selector}[$window]))")
        }];
        if let Some(group) = poll.rollout.as_mut().and_then(|r| r.group.as_mut()) {
            group.counted_since = vec![Some(t(1_700_000_000)); 2];
        }
        src.fetch(&poll).await;
        let mut fleet_wide: Vec<(Instant, String)> = arrivals
            .lock()
            .expect("arrivals")
            .iter()
            .filter(|(_, q)| q.contains(r#"rollout=~"a|b""#))
            .cloned()
            .collect();
        fleet_wide.sort_by_key(|(at, _)| *at);
        let asked: Vec<&str> = fleet_wide.iter().map(|(_, q)| q.as_str()).collect();
        assert!(
            asked.iter().any(|q| q.starts_with("errors_total"))
                && asked.iter().any(|q| q.starts_with("requests_total"))
                && asked.iter().any(|q| q.starts_with("sum by")),
            "the range and both raw counters for the fleet: {asked:?} of {:?}",
            arrivals
                .lock()
                .expect("arrivals")
                .iter()
                .map(|(_, q)| q.clone())
                .collect::<Vec<_>>()
        );
        // Each asked once the one before was answered (and laid over): never two at once.
        for pair in fleet_wide.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(
                gap >= DELAY - Duration::from_millis(10),
                "{:?} after {:?}: {gap:?} apart",
                pair[1].1,
                pair[0].1
            );
        }
    }
}
