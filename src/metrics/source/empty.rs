//! Why a track's answer has no series, in the words of `rollout-console explain` (the
//! `diagnose` lookups on the track's rendered query); when those lookups fail, the coarse
//! answer: a metric name in its query with no series at all, or else the track's selector.
//! Asked once per query.

use chrono::{DateTime, Utc};

use super::PrometheusSource;
use crate::metrics::budget::Priority;
use crate::metrics::decode::{QueryData, Response};
use crate::metrics::diagnose::{Diagnoser, Finding};
use crate::metrics::names::metric_names;
use crate::metrics::template;
use crate::metrics::{EmptyAnswer, EmptyTrack};

/// Names looked up behind one empty answer, at most (the coarse answer).
const MAX_NAME_LOOKUPS: usize = 3;

/// What was found behind an empty query, kept until the query has data.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Known {
    /// The findings' words (`explain`'s).
    Findings(Vec<String>),
    /// The diagnosis failed; the coarse lookup found this name without series (`None`: all
    /// exist).
    Missing(Option<String>),
}

impl PrometheusSource {
    /// Why a track's answer has no series, looked into on that track's rendered query (the
    /// canary's when both are empty): what `explain` finds, else (its lookups failed) a metric
    /// name in the query that has no series at all, else the track's selector. Once per query
    /// text, and not counted in `queries` (the per-poll budget); the lookups queue at the
    /// poll's `priority`, and are bounded by `diagnose`'s limits (selectors, matchers, values).
    /// When every lookup fails, it says nothing (asked again at the next poll).
    pub(super) async fn why_empty(
        &self,
        priority: Priority,
        (baseline, canary): (&str, &str),
        track: Option<EmptyTrack>,
        at: DateTime<Utc>,
    ) -> Option<EmptyAnswer> {
        let lookups = || self.empty_lookups.lock().unwrap_or_else(|e| e.into_inner());
        // A query with data is forgotten: empty again later, it is looked into again.
        let Some(track) = track else {
            let mut known = lookups();
            known.remove(baseline);
            known.remove(canary);
            return None;
        };
        let (with_data, promql) = match track {
            EmptyTrack::Baseline => (Some(canary), baseline),
            EmptyTrack::Canary => (Some(baseline), canary),
            EmptyTrack::Both => (None, canary),
        };
        if let Some(q) = with_data {
            lookups().remove(q);
        }
        let cached = lookups().get(promql).cloned();
        let known = match cached {
            Some(known) => known,
            None => {
                let known = self.look_into(priority, promql, at).await?;
                lookups().insert(promql.to_string(), known.clone());
                known
            }
        };
        Some(match known {
            Known::Findings(words) => EmptyAnswer::Diagnosed { track, words },
            Known::Missing(Some(name)) => EmptyAnswer::MetricMissing { name },
            Known::Missing(None) => EmptyAnswer::SelectorEmpty { track },
        })
    }

    /// `explain`'s findings on `promql`, else the coarse name lookup; `None` when both fail.
    async fn look_into(
        &self,
        priority: Priority,
        promql: &str,
        at: DateTime<Utc>,
    ) -> Option<Known> {
        let findings = Diagnoser::new(&self.client, at)
            .with_priority(priority)
            .why_empty(promql)
            .await;
        match &findings[..] {
            [] => {}
            [Finding::LookupFailed { error }] => {
                tracing::debug!(%error, "diagnosing an empty answer failed");
            }
            _ => {
                return Some(Known::Findings(
                    findings.iter().map(ToString::to_string).collect(),
                ));
            }
        }
        for name in metric_names(promql).into_iter().take(MAX_NAME_LOOKUPS) {
            let q = format!(
                "count({{{}}})",
                template::matchers(&[("__name__", name.as_str())])
            );
            match self.client.query_with(priority, &q, at).await {
                Ok(Response {
                    data: QueryData::Vector(v),
                    ..
                }) if v.is_empty() => return Some(Known::Missing(Some(name))),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%e, %name, "metric name lookup failed");
                    return None;
                }
            }
        }
        Some(Known::Missing(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::source::Selectors;
    use crate::metrics::test_stub::{Seen, client, metric, reply, source, stub, success, t};
    use crate::metrics::{FetchRequest, MetricsSource};
    use serde_json::json;

    use std::time::Duration;

    // ---- Helpers ----

    /// Range queries: `real_metric` of the baseline has a series, every other is empty.
    fn range_answer(seen: &Seen) -> crate::metrics::test_stub::Reply {
        let q = seen.param("query");
        let result = if q.starts_with("real_metric") && q.contains("baseline") {
            json!([{"metric": {}, "values": [[1_700_000_000, "1"]]}])
        } else {
            json!([])
        };
        reply(
            200,
            success(json!({"resultType": "matrix", "result": result})),
        )
    }

    /// `count({__name__="…"})`: only `real_metric` exists.
    fn count_answer(seen: &Seen) -> crate::metrics::test_stub::Reply {
        let result = if seen.param("query").contains("real_metric") {
            json!([{"metric": {}, "value": [1_700_000_000, "12"]}])
        } else {
            json!([])
        };
        reply(
            200,
            success(json!({"resultType": "vector", "result": result})),
        )
    }

    fn request() -> FetchRequest {
        FetchRequest {
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
        }
    }

    /// Everything but the range queries: the lookups behind the empty answers.
    fn lookups(seen: &[Seen]) -> Vec<String> {
        seen.iter()
            .filter(|s| !s.path.ends_with("/query_range"))
            .map(|s| format!("{} {}", s.path, s.param("query")))
            .collect()
    }

    // ---- The metrics source ----

    /// An empty range answer is looked into as `explain` does, on the empty track's query, once
    /// per query: the panel gets its words (the metric that does not exist and its close name;
    /// the canary's mistyped label value and the values the label has).
    #[tokio::test]
    async fn an_empty_answer_carries_explains_words() {
        let server = stub(|seen| {
            let path = seen.path.as_str();
            let data = if path.ends_with("/query_range") {
                return range_answer(seen);
            } else if path.ends_with("/label/__name__/values") {
                json!(["real_metric", "up"])
            } else if path.ends_with("/series") {
                // Every series of real_metric is job="checkout".
                let m = seen.param("match[]");
                if m.contains("chekout") {
                    json!([])
                } else {
                    json!([{"__name__": "real_metric", "job": "checkout", "track": "canary"}])
                }
            } else if path.ends_with("/label/job/values") {
                json!(["checkout"])
            } else if path.ends_with("/labels") {
                json!(["__name__", "job", "track"])
            } else {
                return count_answer(seen);
            };
            reply(200, success(data))
        })
        .await;
        let src = PrometheusSource::new(
            client(&server.url("/")),
            Selectors {
                baseline: r#"job="checkout", track="baseline""#.into(),
                canary: r#"job="chekout", track="canary""#.into(),
                service: r#"job="checkout""#.into(),
                rollout: "checkout".into(),
            },
        );
        let mut asked = Vec::new();
        for _ in 0..2 {
            let result = src.fetch(&request()).await;
            assert_eq!(
                result.empty,
                [
                    (
                        "typo".to_string(),
                        EmptyAnswer::Diagnosed {
                            track: EmptyTrack::Both,
                            words: vec![
                                "metric reel_metric does not exist in this Prometheus (no series \
                                 in the last hour); did you mean real_metric?"
                                    .into()
                            ]
                        }
                    ),
                    (
                        "canary".to_string(),
                        EmptyAnswer::Diagnosed {
                            track: EmptyTrack::Canary,
                            words: vec![
                                r#"label job: no series of real_metric{track="canary"} has job="chekout"; job has: checkout"#
                                    .into()
                            ]
                        }
                    ),
                ]
            );
            assert_eq!(result.queries, 4, "lookups are not in the per-poll budget");
            asked.push(lookups(&server.seen()));
        }
        assert!(!asked[0].is_empty());
        assert_eq!(asked[0], asked[1], "one look per query, not one per poll");
        assert!(
            asked[0].iter().all(|q| !q.contains("baseline")),
            "only the empty tracks are looked into: {:?}",
            asked[0]
        );
    }

    /// When the lookups `explain` makes fail (an engine or proxy without the series and label
    /// endpoints), the metric name is looked up: the panel is told which is empty, the name or
    /// the track's selector; still once per query.
    #[tokio::test]
    async fn without_the_catalog_endpoints_it_says_whether_the_metric_or_the_selector_is_missing() {
        let server = stub(|seen| {
            let path = seen.path.as_str();
            if path.ends_with("/query_range") {
                range_answer(seen)
            } else if path.ends_with("/query") {
                count_answer(seen)
            } else {
                reply(404, "404 page not found")
            }
        })
        .await;
        let src = source(&server.url("/"));
        for _ in 0..2 {
            let result = src.fetch(&request()).await;
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
        let counts: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("query").to_string())
            .filter(|q| q.starts_with("count("))
            .collect();
        assert_eq!(
            counts.len(),
            2,
            "one lookup per query, not one per poll: {counts:?}"
        );
        assert!(counts.contains(&r#"count({__name__="reel_metric"})"#.to_string()));
    }
}
