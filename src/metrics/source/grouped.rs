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

/// One grouped answer kept for the step it was asked in: (start of its range, the answer).
pub(super) type GroupCache =
    tokio::sync::Mutex<std::collections::HashMap<(String, i64, i64), (i64, GroupAnswer)>>;

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
            Some((from, answer)) if *from <= start_ms => (answer.clone(), 0, None),
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
                cache.insert(key, (start_ms, answer.clone()));
                (answer, 1, samples)
            }
        };
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
