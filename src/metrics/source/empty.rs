//! Why a track's answer has no series: a metric name in its query with no series at all, or
//! else the track's selector; asked once per query.

use chrono::{DateTime, Utc};

use super::PrometheusSource;
use crate::metrics::budget::Priority;
use crate::metrics::decode::{QueryData, Response};
use crate::metrics::names::metric_names;
use crate::metrics::template;
use crate::metrics::{EmptyAnswer, EmptyTrack};

/// Names looked up behind one empty answer, at most.
const MAX_NAME_LOOKUPS: usize = 3;

impl PrometheusSource {
    /// Why a track's answer has no series: a metric name in the query that has no series at
    /// all, else the track's selector. One instant `count` per name, once per query (not
    /// counted in `queries`, the per-poll budget); a failed lookup says nothing.
    pub(super) async fn why_empty(
        &self,
        priority: Priority,
        key: &str,
        promql: &str,
        track: Option<EmptyTrack>,
        at: DateTime<Utc>,
    ) -> Option<EmptyAnswer> {
        let lookups = || self.empty_lookups.lock().unwrap_or_else(|e| e.into_inner());
        let Some(track) = track else {
            lookups().remove(key);
            return None;
        };
        let known = lookups().get(key).cloned();
        let missing = match known {
            Some(missing) => missing,
            None => {
                let mut missing = None;
                for name in metric_names(promql).into_iter().take(MAX_NAME_LOOKUPS) {
                    let q = format!(
                        "count({{{}}})",
                        template::matchers(&[("__name__", name.as_str())])
                    );
                    match self.client.query_with(priority, &q, at).await {
                        Ok(Response {
                            data: QueryData::Vector(v),
                            ..
                        }) if v.is_empty() => {
                            missing = Some(name);
                            break;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(%e, %name, "metric name lookup failed");
                            return None;
                        }
                    }
                }
                lookups().insert(key.to_string(), missing.clone());
                missing
            }
        };
        Some(match missing {
            Some(name) => EmptyAnswer::MetricMissing { name },
            None => EmptyAnswer::SelectorEmpty { track },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_stub::{metric, source, success, t};

    use crate::metrics::test_stub::{reply, stub};
    use crate::metrics::{FetchRequest, MetricsSource};
    use serde_json::json;

    use std::time::Duration;

    // ---- Helpers ----

    // ---- The metrics source ----

    /// An empty range answer: the metric name is looked up once per query, and the panel is told
    /// which is empty, the name or the track's selector.
    #[tokio::test]
    async fn an_empty_answer_says_whether_the_metric_or_the_selector_is_missing() {
        let server = stub(|seen| {
            let q = seen.param("query");
            let empty = || success(json!({"resultType": "matrix", "result": []}));
            let one = json!({"resultType": "matrix", "result": [
                {"metric": {}, "values": [[1_700_000_000, "1"]]}
            ]});
            if q.starts_with("count(") {
                let result = if q.contains("real_metric") {
                    json!([{"metric": {}, "value": [1_700_000_000, "12"]}])
                } else {
                    json!([])
                };
                reply(
                    200,
                    success(json!({"resultType": "vector", "result": result})),
                )
            } else if q.starts_with("real_metric") && q.contains("baseline") {
                reply(200, success(one))
            } else {
                reply(200, empty())
            }
        })
        .await;
        let src = source(&server.url("/"));
        let request = FetchRequest {
            now: t(1_700_000_000),
            lookback: Duration::from_secs(60),
            step: Duration::from_secs(15),
            metrics: vec![
                metric("typo", "sum(rate(reel_metric{$selector}[$window]))"),
                metric("canary", "real_metric{$selector}"),
            ],
            slos: vec![],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        for _ in 0..2 {
            let result = src.fetch(&request).await;
            assert_eq!(
                result.empty,
                [
                    (
                        "typo".to_string(),
                        EmptyAnswer::MetricMissing {
                            name: "reel_metric".into()
                        }
                    ),
                    (
                        "canary".to_string(),
                        EmptyAnswer::SelectorEmpty {
                            track: EmptyTrack::Canary
                        }
                    ),
                ]
            );
            assert_eq!(result.queries, 4, "lookups are not in the per-poll budget");
        }
        let lookups: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("query").to_string())
            .filter(|q| q.starts_with("count("))
            .collect();
        assert_eq!(
            lookups.len(),
            2,
            "one lookup per query, not one per poll: {lookups:?}"
        );
        assert!(lookups.contains(&r#"count({__name__="reel_metric"})"#.to_string()));
    }
}
