//! A metric asked for the whole fleet at once (`[fleet] group_by`): the first member's poll in a
//! step sends one grouped range query, every other member's poll in that step reads its series
//! from the answer (`metrics::grouped` rewrites the query and splits the answer).

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use super::{DEFAULT_WINDOW, Outcome, PrometheusSource, samples_touched};
use crate::domain::Series;
use crate::metrics::budget::Priority;
use crate::metrics::decode::QueryData;
use crate::metrics::grouped::{GroupAnswer, by_member, members_regex, rewrite};
use crate::metrics::template::{self, Vars};
use crate::metrics::{EmptyAnswer, Group, MetricQuery, TrackSeries};

/// One grouped answer kept for the step it was asked in, until every member has read it.
pub(super) type GroupCache =
    tokio::sync::Mutex<std::collections::HashMap<(String, i64, i64), Kept>>;

/// A grouped answer: the start of its range, the answer, and the members that read it.
#[derive(Debug)]
pub(super) struct Kept {
    from_ms: i64,
    answer: GroupAnswer,
    read_by: std::collections::BTreeSet<String>,
}

impl PrometheusSource {
    /// The metric for `group.member` from the fleet's grouped answer at `end`; `None` when the
    /// metric cannot be grouped (its query is asked per rollout then).
    pub(super) async fn fetch_grouped(
        &self,
        priority: Priority,
        query: &MetricQuery,
        group: &Group,
        (start, end, step): (DateTime<Utc>, DateTime<Utc>, Duration),
    ) -> Option<(Outcome<TrackSeries>, Option<EmptyAnswer>)> {
        if group.stable_hash.is_empty() || group.canary_hash.is_empty() {
            return None;
        }
        let grouped = rewrite(&query.query, &[&group.label, &group.hash_label])?;
        let members = format!(
            "{}=~\"{}\"",
            group.label,
            template::escape_label_value(&members_regex(&group.members))
        );
        let vars = Vars {
            selector: Some(&members),
            service: Some(&members),
            window: Some(query.window.unwrap_or(DEFAULT_WINDOW)),
            // A query naming its own rollout cannot be asked for all of them.
            rollout: None,
        };
        let promql = template::render(&grouped, &vars).ok()?;
        let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
        let (start_ms, end_ms) = (start.timestamp_millis(), end.timestamp_millis());
        let key = (promql.clone(), step_ms, end_ms);
        // Held while the query is in flight: the other members' polls of this step wait for it
        // and read its answer instead of asking again.
        let mut cache = self.groups.lock().await;
        let (answer, queries, samples) = match cache.get(&key) {
            Some(kept) if kept.from_ms <= start_ms => (kept.answer.clone(), 0, None),
            _ => {
                let response = self
                    .client
                    .query_range_with(priority, &promql, start, end, step)
                    .await;
                let samples = samples_touched([&response]);
                let answer: GroupAnswer = match response {
                    Ok(r) => match r.data {
                        QueryData::Matrix(series) => {
                            by_member(series, &group.label, &group.hash_label).map(Arc::new)
                        }
                        _ => Err("grouped query: expected a range result (matrix)".into()),
                    },
                    Err(e) => Err(format!("grouped query: {e}")),
                };
                // Answers of earlier steps are never read again.
                cache.retain(|(_, _, at), _| *at >= end_ms);
                let kept = Kept {
                    from_ms: start_ms,
                    answer: answer.clone(),
                    read_by: Default::default(),
                };
                cache.insert(key.clone(), kept);
                (answer, 1, samples)
            }
        };
        // Once every member has read its part, the answer is only the rows' copies' twin: a
        // fleet's series over the rows' holds (6 MiB of 30 at 50 rollouts an hour old).
        if let Some(kept) = cache.get_mut(&key) {
            kept.read_by.insert(group.member.clone());
            if group.members.iter().all(|m| kept.read_by.contains(m)) {
                cache.remove(&key);
            }
        }
        drop(cache);
        let pick = |hash: &str, map: &std::collections::HashMap<(String, String), Series>| {
            // Only the member's own range is copied (not its whole series, then cut).
            map.get(&(group.member.clone(), hash.to_string()))
                .map(|series| Series::new(series.since(start).copied().collect()))
                .unwrap_or_default()
        };
        let result = answer.map(|map| TrackSeries {
            baseline: pick(&group.stable_hash, &map),
            canary: pick(&group.canary_hash, &map),
        });
        let points = if queries > 0 {
            u64::try_from((end_ms - start_ms) / step_ms + 1).unwrap_or(0)
        } else {
            0
        };
        let outcome = Outcome {
            result,
            warnings: Vec::new(),
            queries,
            points,
            samples,
        };
        Some((outcome, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_stub::{metric, reply, source, stub, success, t};
    use crate::metrics::{FetchRequest, ForRollout, MetricsSource, Priority};
    use serde_json::json;

    fn request(member: &str) -> FetchRequest {
        FetchRequest {
            now: t(1_700_000_100),
            lookback: Duration::from_secs(60),
            step: Duration::from_secs(10),
            metrics: vec![metric("rate", "sum(rate(x{$selector}[$window]))")],
            slos: vec![],
            tracks: None,
            priority: Priority::Open,
            rollout: Some(ForRollout {
                name: member.into(),
                selectors: None,
                group: Some(Box::new(Group {
                    label: "rollout".into(),
                    hash_label: "hash".into(),
                    members: vec!["a".into(), "b".into()],
                    member: member.into(),
                    stable_hash: "s".into(),
                    canary_hash: "c".into(),
                    lookback: Duration::from_secs(60),
                    counted_since: vec![None, None],
                })),
            }),
        }
    }

    #[tokio::test]
    async fn the_answer_is_kept_until_every_member_has_read_it() {
        let server = stub(|_| {
            let series = |rollout: &str, hash: &str| {
                json!({"metric": {"rollout": rollout, "hash": hash},
                       "values": [[1_700_000_090, "1"], [1_700_000_100, "2"]]})
            };
            let result =
                [("a", "s"), ("a", "c"), ("b", "s"), ("b", "c")].map(|(r, h)| series(r, h));
            reply(
                200,
                success(json!({"resultType": "matrix", "result": result})),
            )
        })
        .await;
        let src = source(&server.url(""));
        let a = src.fetch(&request("a")).await;
        assert_eq!(a.queries, 1);
        assert_eq!(src.groups.lock().await.len(), 1, "b has not read it yet");
        let b = src.fetch(&request("b")).await;
        assert_eq!(b.queries, 0, "b reads a's answer");
        let canary = b.metrics[0].1.as_ref().map(|s| s.canary.points.len());
        assert_eq!(canary, Ok(2));
        assert!(src.groups.lock().await.is_empty(), "read by both: dropped");
        assert_eq!(server.seen().len(), 1);
    }
}
