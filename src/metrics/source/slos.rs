//! An SLO's share of a poll: one instant query per window (the SLO's own and each burn-rate
//! window), from a recorded series where the config names one, read as one ratio each.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use super::{Outcome, PrometheusSource, Selectors, samples_touched};
use crate::domain::slo::{BURN_WINDOWS, SloMeasurement};
use crate::metrics::SloQuery;
use crate::metrics::budget::Priority;
use crate::metrics::decode::{PromError, QueryData, Response};
use crate::metrics::template;

impl PrometheusSource {
    pub(super) async fn fetch_slo(
        &self,
        (priority, sel): (Priority, &Selectors),
        slo: &SloQuery,
        at: DateTime<Utc>,
    ) -> Outcome<SloMeasurement> {
        let windows = slo_windows(slo);
        let mut queries = Vec::with_capacity(windows.len());
        for (label, window) in &windows {
            // A recorded series for this window when the config names one, else the query.
            let vars = super::vars(sel, "", *window);
            let rendered = match recorded(slo, label, *window) {
                Some(series) => template::render_recorded(series, &vars),
                None => template::render(&slo.error_ratio, &vars),
            };
            match rendered {
                Ok(q) => queries.push(q),
                Err(e) => return Outcome::failed(e),
            }
        }
        let (responses, samples) = self.ask_windows(priority, &queries, at).await;
        let mut warnings = Vec::new();
        let mut ratios = Vec::with_capacity(windows.len());
        let mut failure = None;
        for ((label, _), response) in windows.iter().zip(responses) {
            match instant_value(response, &mut warnings) {
                Ok(v) => ratios.push((label.to_string(), v)),
                Err(e) => {
                    failure.get_or_insert_with(|| format!("error ratio over {label}: {e}"));
                }
            }
        }
        let result = match failure {
            Some(e) => Err(e),
            None => {
                let error_ratio = ratios.first().and_then(|(_, v)| *v);
                Ok(SloMeasurement {
                    error_ratio,
                    window_ratios: ratios.into_iter().skip(1).collect(),
                })
            }
        };
        Outcome {
            result,
            warnings,
            queries: queries.len(),
            points: 0,
            samples,
        }
    }
}

/// An SLO's windows with their labels: its own (`30d`), then each burn-rate window.
pub(super) fn slo_windows(slo: &SloQuery) -> Vec<(String, Duration)> {
    std::iter::once((template::prom_duration(slo.window), slo.window))
        .chain(BURN_WINDOWS.iter().map(|(l, w)| (l.to_string(), *w)))
        .collect()
}

impl PrometheusSource {
    /// Each window's instant query at `at`, and the samples they touched.
    pub(super) async fn ask_windows(
        &self,
        priority: Priority,
        queries: &[String],
        at: DateTime<Utc>,
    ) -> (Vec<Result<Response, PromError>>, Option<u64>) {
        let responses = join_all(
            queries
                .iter()
                .map(|q| self.client.query_with(priority, q, at)),
        )
        .await;
        let samples = samples_touched(&responses);
        (responses, samples)
    }
}

/// The recorded series template of an SLO for one window: listed by its label (`5m`, `30d`),
/// or for the SLO's own window also as Prometheus writes it (`4w` for 28 days).
fn recorded<'a>(slo: &'a SloQuery, label: &str, window: Duration) -> Option<&'a str> {
    let own = template::prom_label(window);
    slo.recorded
        .iter()
        .find(|(l, _)| l == label || (window == slo.window && *l == own))
        .map(|(_, t)| t.as_str())
}

/// An instant answer as one ratio; no series or a non-finite value is "no data".
fn instant_value(
    response: Result<Response, PromError>,
    warnings: &mut Vec<String>,
) -> Result<Option<f64>, String> {
    let response = response.map_err(|e| e.to_string())?;
    warnings.extend(response.warnings);
    let value = match response.data {
        QueryData::Vector(samples) => match samples.as_slice() {
            [] => None,
            [(_, sample)] => Some(sample.value),
            more => {
                return Err(format!(
                    "query returned {} series; aggregate it (e.g. sum(...))",
                    more.len()
                ));
            }
        },
        QueryData::Scalar(sample) => Some(sample.value),
        QueryData::Matrix(_) => {
            return Err(
                "expected one number, got a range vector; drop the trailing [range]".to_string(),
            );
        }
    };
    Ok(value.filter(|v| v.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::vector;
    use crate::metrics::test_stub::{reply, source, stub, success, t};
    use crate::metrics::{FetchRequest, MetricsSource, SloQuery};
    use serde_json::json;
    use std::time::Duration;

    #[tokio::test]
    async fn slo_error_ratios_over_every_window() {
        let server = stub(|seen| {
            let q = seen.param("query");
            let window = q
                .rsplit_once('[')
                .and_then(|(_, w)| w.split_once(']'))
                .map_or("", |(w, _)| w);
            if q.starts_with("many") {
                return reply(
                    200,
                    success(json!({"resultType": "vector", "result": [
                        {"metric": {"a": "1"}, "value": [1, "0.1"]},
                        {"metric": {"a": "2"}, "value": [1, "0.2"]}
                    ]})),
                );
            }
            match window {
                "28d" => reply(200, vector("0.0004")),
                "30m" => reply(200, success(json!({"resultType": "vector", "result": []}))),
                "1h" => reply(200, vector("NaN")),
                "2h" => reply(
                    200,
                    success(json!({"resultType": "scalar", "result": [1, "0.003"]})),
                ),
                "5m" => reply(
                    200,
                    json!({"status": "success", "warnings": ["slow"],
                        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.02"]}]}}),
                ),
                _ => reply(200, vector("0.001")),
            }
        })
        .await;
        let src = source(&server.url(""));
        let now = t(1_700_000_000);
        let request = FetchRequest {
            now,
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![],
            slos: vec![
                SloQuery {
                    name: "availability".into(),
                    error_ratio: r#"errors{$service, rollout="$rollout"}[$window]"#.into(),
                    window: Duration::from_secs(28 * 86_400),
                    recorded: Vec::new(),
                },
                SloQuery {
                    name: "aggregated badly".into(),
                    error_ratio: "many{$service}[$window]".into(),
                    window: Duration::from_secs(86_400),
                    recorded: Vec::new(),
                },
                SloQuery {
                    name: "selector in an SLO".into(),
                    error_ratio: "x{$selector}".into(),
                    window: Duration::from_secs(86_400),
                    recorded: Vec::new(),
                },
            ],
            tracks: None,
            priority: crate::metrics::Priority::Open,
            rollout: None,
        };
        let result = src.fetch(&request).await;
        let availability = result.slos[0].1.as_ref().expect("availability");
        assert_eq!(availability.error_ratio, Some(0.0004));
        let want: Vec<(String, Option<f64>)> = [
            ("5m", Some(0.02)),
            ("30m", None),
            ("1h", None),
            ("2h", Some(0.003)),
            ("6h", Some(0.001)),
            ("1d", Some(0.001)),
            ("3d", Some(0.001)),
        ]
        .into_iter()
        .map(|(l, v)| (l.to_string(), v))
        .collect();
        assert_eq!(availability.window_ratios, want);

        let many = result.slos[1].1.as_ref().expect_err("many");
        assert!(
            many.starts_with("error ratio over 1d: query returned 2 series; aggregate it"),
            "{many}"
        );
        let selector = result.slos[2].1.as_ref().expect_err("selector");
        assert!(selector.contains("$selector"), "{selector}");

        assert_eq!(result.queries, 16);
        assert_eq!(result.warnings, ["slow"]);
        let seen = server.seen();
        assert!(
            seen.iter()
                .all(|s| s.path == "/api/v1/query" && s.param("time") == "1700000000")
        );
        assert!(
            seen.iter()
                .any(|s| s.param("query") == r#"errors{job="checkout", rollout="checkout"}[28d]"#)
        );
    }

    /// A Sloth-style template gives every window a recorded series; a Pyrra-style table only
    /// some, and the rest are computed from `error_ratio`.
    #[tokio::test]
    async fn recorded_series_are_read_per_window_and_the_rest_fall_back() {
        let server = stub(|seen| {
            let q = seen.param("query");
            if let Some(rest) = q.strip_prefix("slo:sli_error:ratio_rate") {
                let label = rest.split('{').next().unwrap_or("");
                let v = match label {
                    "5m" => "0.05",
                    "30d" => "0.0003",
                    _ => "0.002",
                };
                reply(200, vector(v))
            } else if q.starts_with("http_requests:burnrate") {
                reply(200, vector("0.07"))
            } else {
                reply(200, vector("0.001"))
            }
        })
        .await;
        let src = source(&server.url(""));
        let sloth = r#"slo:sli_error:ratio_rate$window{sloth_service="checkout", sloth_slo="availability"}"#;
        let all_windows: Vec<(String, String)> = ["30d", "5m", "30m", "1h", "2h", "6h", "1d", "3d"]
            .into_iter()
            .map(|l| (l.to_string(), sloth.to_string()))
            .collect();
        let request = FetchRequest {
            now: t(1_700_000_000),
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![],
            slos: vec![
                SloQuery {
                    name: "sloth".into(),
                    error_ratio: "errors{$service}[$window]".into(),
                    window: Duration::from_secs(30 * 86_400),
                    recorded: all_windows,
                },
                SloQuery {
                    name: "pyrra".into(),
                    error_ratio: "errors{$service}[$window]".into(),
                    window: Duration::from_secs(28 * 86_400),
                    recorded: vec![
                        (
                            "5m".into(),
                            r#"http_requests:burnrate5m{slo="$rollout"}"#.into(),
                        ),
                        (
                            "1h".into(),
                            r#"http_requests:burnrate${window}{slo="$rollout"}"#.into(),
                        ),
                    ],
                },
            ],
            tracks: None,
            priority: crate::metrics::Priority::Background,
            rollout: None,
        };
        let result = src.fetch(&request).await;
        let sloth = result.slos[0].1.as_ref().expect("sloth");
        assert_eq!(sloth.error_ratio, Some(0.0003));
        assert_eq!(sloth.window_ratios[0], ("5m".to_string(), Some(0.05)));
        assert!(
            sloth.window_ratios[1..]
                .iter()
                .all(|(_, v)| *v == Some(0.002))
        );
        let pyrra = result.slos[1].1.as_ref().expect("pyrra");
        assert_eq!(pyrra.error_ratio, Some(0.001), "28d falls back");
        let by_label = |l: &str| pyrra.window_ratios.iter().find(|(w, _)| w == l).expect(l).1;
        assert_eq!(by_label("5m"), Some(0.07));
        assert_eq!(by_label("1h"), Some(0.07));
        assert_eq!(by_label("30m"), Some(0.001));
        assert_eq!(by_label("3d"), Some(0.001));
        assert_eq!(result.queries, 16);

        let mut sent: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("query").to_string())
            .collect();
        sent.sort();
        for want in [
            r#"slo:sli_error:ratio_rate30d{sloth_service="checkout", sloth_slo="availability"}"#,
            r#"slo:sli_error:ratio_rate5m{sloth_service="checkout", sloth_slo="availability"}"#,
            r#"slo:sli_error:ratio_rate3d{sloth_service="checkout", sloth_slo="availability"}"#,
            r#"http_requests:burnrate5m{slo="checkout"}"#,
            r#"http_requests:burnrate1h{slo="checkout"}"#,
            r#"errors{job="checkout"}[28d]"#,
            r#"errors{job="checkout"}[30m]"#,
        ] {
            assert!(sent.iter().any(|q| q == want), "{want} not in {sent:#?}");
        }
        // Nothing of the sloth SLO is computed from its query.
        assert_eq!(sent.iter().filter(|q| q.starts_with("errors")).count(), 6);
    }
}
