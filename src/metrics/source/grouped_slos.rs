//! An SLO asked for the whole fleet at once (`[fleet] group_by`): one instant query per window
//! for every member (`sum by (rollout) (…)`), read by each member while it is fresher than the
//! SLO refresh. Fifty rollouts' 30-day windows were fifty times the heaviest query a console
//! sends; grouped they are one. An SLO read from recorded series, or whose query cannot be
//! rewritten safely, stays per rollout.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::slos::slo_windows;
use super::{Outcome, PrometheusSource};
use crate::domain::slo::SloMeasurement;
use crate::metrics::budget::Priority;
use crate::metrics::decode::QueryData;
use crate::metrics::grouped::rewrite;
use crate::metrics::rules::slo_rules;
use crate::metrics::template::{self, Vars};
use crate::metrics::{Group, SloQuery};

/// Every member's error ratio over one window (`None`: no data for it).
type ByMember = HashMap<String, Option<f64>>;

/// The fleet's answers, by the SLO's first grouped query.
pub(super) type SloGroups = tokio::sync::Mutex<HashMap<String, Kept>>;

#[derive(Debug)]
pub(super) struct Kept {
    asked_at: DateTime<Utc>,
    /// Each window's label and ratios, in the order of the SLO's windows; or why not.
    windows: Result<Vec<(String, ByMember)>, String>,
    warnings: Vec<String>,
}

impl PrometheusSource {
    /// `group.member`'s SLO from the fleet's answer; `None` when the SLO cannot be grouped.
    pub(super) async fn fetch_grouped_slo(
        &self,
        priority: Priority,
        slo: &SloQuery,
        group: &Group,
        at: DateTime<Utc>,
    ) -> Option<Outcome<SloMeasurement>> {
        // Recorded series are cheap to read one by one, and carry no aggregation to extend.
        if !slo.recorded.is_empty() {
            return None;
        }
        let windows = slo_windows(slo);
        let mut queries = Vec::with_capacity(windows.len());
        if group.recorded {
            // In the order of `slo_windows`, as the rules are made.
            let rules = slo_rules(group.fleet(), &slo.name, &slo.error_ratio, slo.window).ok()?;
            queries.extend(
                rules
                    .iter()
                    .map(|(_, rule)| rule.read(&group.label, &group.members)),
            );
        } else {
            let grouped = rewrite(&slo.error_ratio, &[&group.label])?;
            let members =
                self.member_selectors
                    .get(&group.service, &group.label, &group.members)?;
            for (_, window) in &windows {
                let vars = Vars {
                    selector: Some(&members),
                    service: Some(&members),
                    window: Some(*window),
                    // A query naming its own rollout cannot be asked for all of them.
                    rollout: None,
                };
                queries.push(template::render(&grouped, &vars).ok()?);
            }
        }
        let key = queries.first()?.clone();
        let fresh_for = chrono::Duration::from_std(group.slo_fresh_for).ok()?;
        // Held while the queries are in flight: the other members wait and read the answer.
        let mut kept = self.slo_groups.lock().await;
        let fresh = kept
            .get(&key)
            .is_some_and(|k| (at - k.asked_at).abs() < fresh_for);
        let (asked, samples) = if fresh {
            (0, None)
        } else {
            let (responses, samples) = self.ask_windows(priority, &queries, at).await;
            let mut warnings = Vec::new();
            let mut by_window = Vec::with_capacity(windows.len());
            let mut failure = None;
            for ((label, _), response) in windows.iter().zip(responses) {
                let ratios = response.map_err(|e| e.to_string()).and_then(|r| {
                    warnings.extend(r.warnings);
                    by_member(r.data, &group.label)
                });
                match ratios {
                    Ok(r) => by_window.push((label.to_string(), r)),
                    Err(e) => {
                        failure.get_or_insert_with(|| format!("error ratio over {label}: {e}"));
                    }
                }
            }
            let windows = match failure {
                Some(e) => Err(e),
                None => Ok(by_window),
            };
            kept.retain(|_, k| (at - k.asked_at).abs() < fresh_for);
            kept.insert(
                key.clone(),
                Kept {
                    asked_at: at,
                    windows,
                    warnings,
                },
            );
            (queries.len(), samples)
        };
        let answer = kept.get(&key)?;
        let result = answer.windows.as_ref().map_err(Clone::clone).map(|by| {
            let mut ratios = by.iter().map(|(label, members)| {
                (label.clone(), members.get(&group.member).copied().flatten())
            });
            let error_ratio = ratios.next().and_then(|(_, v)| v);
            SloMeasurement {
                error_ratio,
                window_ratios: ratios.collect(),
            }
        });
        Some(Outcome {
            result,
            warnings: answer.warnings.clone(),
            queries: asked,
            points: 0,
            samples,
        })
    }
}

/// An instant answer as each member's ratio (a non-finite value is "no data").
fn by_member(data: QueryData, label: &str) -> Result<ByMember, String> {
    match data {
        QueryData::Vector(samples) => {
            let mut out = ByMember::new();
            for (labels, sample) in samples {
                let member = labels.get(label).map(|v| v.to_string()).unwrap_or_default();
                let value = Some(sample.value).filter(|v| v.is_finite());
                if out.insert(member.clone(), value).is_some() {
                    return Err(format!(
                        "the grouped query returned two series for {label}={member:?}; aggregate it"
                    ));
                }
            }
            Ok(out)
        }
        QueryData::Scalar(_) => Err("a grouped SLO query gave one number for every rollout".into()),
        QueryData::Matrix(_) => {
            Err("expected one number, got a range vector; drop the trailing [range]".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::slo::BURN_WINDOWS;
    use crate::metrics::test_stub::{fleet_member, reply, source, stub, success, t};
    use crate::metrics::{FetchRequest, MetricsSource};
    use serde_json::json;
    use std::time::Duration;

    fn request(member: &str, now: DateTime<Utc>, recorded: bool) -> FetchRequest {
        FetchRequest {
            now,
            lookback: Duration::from_secs(60),
            step: Duration::from_secs(10),
            metrics: vec![],
            slos: vec![SloQuery {
                name: "availability".into(),
                error_ratio: r#"sum(rate(e{$service}[$window])) / sum(rate(t{$service}[$window]))"#
                    .into(),
                window: Duration::from_secs(30 * 86_400),
                recorded: if recorded {
                    vec![("5m".into(), "slo:ratio_rate5m{$service}".into())]
                } else {
                    vec![]
                },
            }],
            tracks: None,
            priority: Priority::Open,
            rollout: Some(fleet_member(
                &["a", "b", "c"],
                member,
                ("", ""),
                r#"rollout="$rollout""#,
            )),
        }
    }

    /// Per window: `a` at 0.001 × the window's hours, `b` NaN (no requests), `c` absent; the
    /// 5m window fails when `fail_5m`.
    async fn fleet(fail_5m: bool) -> crate::metrics::test_stub::Stub {
        stub(move |seen| {
            let q = seen.param("query");
            if q.contains("[5m]") && fail_5m {
                return reply(422, json!({"status": "error", "errorType": "execution", "error": "too many samples"}));
            }
            let hours = if q.contains("[30d]") { 720.0 } else if q.contains("[6h]") { 6.0 } else { 1.0 };
            let result = json!([
                {"metric": {"rollout": "a"}, "value": [1, format!("{}", 0.001 * hours)]},
                {"metric": {"rollout": "b"}, "value": [1, "NaN"]},
            ]);
            reply(200, success(json!({"resultType": "vector", "result": result})))
        })
        .await
    }

    #[tokio::test]
    async fn one_query_per_window_serves_the_fleet_while_fresh() {
        let server = fleet(false).await;
        let src = source(&server.url(""));
        let a = src.fetch(&request("a", t(1_700_000_000), false)).await;
        let windows = 1 + BURN_WINDOWS.len();
        assert_eq!(a.queries, windows);
        let query = server.seen()[0].param("query").to_string();
        assert_eq!(
            query,
            r#"sum by (rollout) (rate(e{rollout=~"a|b|c"}[30d])) / sum by (rollout) (rate(t{rollout=~"a|b|c"}[30d]))"#
        );
        let slo = a.slos[0].1.as_ref().expect("a's SLO");
        assert_eq!(slo.error_ratio, Some(0.72));
        assert!(
            slo.window_ratios.contains(&("6h".into(), Some(0.006))),
            "{slo:?}"
        );
        // b and c read the same answer: b has no data (NaN), c no series.
        let b = src.fetch(&request("b", t(1_700_000_030), false)).await;
        let c = src.fetch(&request("c", t(1_700_000_059), false)).await;
        assert_eq!((b.queries, c.queries), (0, 0));
        for r in [&b, &c] {
            let slo = r.slos[0].1.as_ref().expect("SLO");
            assert_eq!(slo.error_ratio, None);
            assert!(slo.window_ratios.iter().all(|(_, v)| v.is_none()));
        }
        // A minute on, the next member asks again for everyone.
        let again = src.fetch(&request("b", t(1_700_000_060), false)).await;
        assert_eq!(again.queries, windows);
        assert_eq!(server.seen().len(), 2 * windows);
    }

    #[tokio::test]
    async fn a_failed_window_fails_every_member_and_recorded_series_stay_per_rollout() {
        let server = fleet(true).await;
        let src = source(&server.url(""));
        let a = src.fetch(&request("a", t(1_700_000_000), false)).await;
        let b = src.fetch(&request("b", t(1_700_000_001), false)).await;
        for r in [&a, &b] {
            let err = r.slos[0].1.as_ref().expect_err("failed");
            assert!(
                err.contains("over 5m") && err.contains("too many samples"),
                "{err}"
            );
        }
        assert_eq!(b.queries, 0, "the failure is the fleet's, not asked again");
        let recorded = src.fetch(&request("a", t(1_700_000_002), true)).await;
        let asked = server.seen();
        let last = asked.last().map(|s| s.param("query").to_string());
        assert_eq!(recorded.queries, 1 + BURN_WINDOWS.len());
        assert!(
            asked
                .iter()
                .any(|s| s.param("query").starts_with("slo:ratio_rate5m{")),
            "recorded series are read per rollout: {last:?}"
        );
    }
}
