//! Why a query answers with nothing, found out over the Prometheus API: (a) a metric name that
//! does not exist (with close real names), (b) a matcher no series satisfies (found by dropping
//! the matchers one at a time; with the values its label does have), or a label the series do
//! not carry at all, (c) series with no sample, or too few for a rate, in the window, (d) a label
//! the query groups or matches on that no series carries. `scan` finds the selectors in the
//! rendered query and `pick` makes the pure choices; this file asks the engine.
//! [`run_once`] runs one query once (what `explain` does for every query of a config).

pub mod pick;
pub mod scan;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::OnceCell;

use super::budget::Priority;
use super::client::PrometheusClient;
use super::decode::{PromError, QueryData};
use scan::{Selector, scan};

/// How far back the series and label lookups look: a series not seen in this long is missing.
pub const LOOKBACK: Duration = Duration::from_secs(3600);
/// Selectors of one query looked into, at most.
const MAX_SELECTORS: usize = 4;
/// Culprit matchers of one selector looked into, at most.
const MAX_CULPRITS: usize = 3;
/// Close names suggested for a missing metric, at most.
const MAX_CLOSE: usize = 3;
/// Label values read for one label, at most.
const MAX_VALUES: usize = 200;
/// The window samples are counted over for a selector without a range (Prometheus's lookback).
const INSTANT_WINDOW: &str = "5m";

/// One reason a query answers with nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// (a) No series of this name in the last hour.
    MetricMissing { name: String, close: Vec<String> },
    /// (b) A matcher no series of the rest of the selector satisfies.
    LabelValueMissing {
        selector: String,
        matcher: String,
        label: String,
        asked: String,
        existing: Vec<String>,
        more: usize,
    },
    /// (b/d) A matcher on a label the series do not carry at all.
    LabelMissing {
        selector: String,
        matcher: String,
        label: String,
        labels: Vec<String>,
    },
    /// (b) Each matcher matches series, but no series matches them all.
    Combination { selector: String },
    /// (c) Series exist (in the last hour), but no sample in the window.
    NoSamples { selector: String, window: String },
    /// (c) Too few samples in the window for a rate: at most `most` per series.
    TooFewSamples {
        selector: String,
        window: String,
        most: u64,
    },
    /// (d) The query groups or matches on a label no series of its selectors carries.
    GroupingLabelMissing {
        label: String,
        selectors: Vec<String>,
    },
    /// The query selects no series at all (only numbers and functions of time).
    NoSelector,
    /// Every selector has series with samples: an operator drops them all.
    OperatorsDropAll,
    /// The lookups themselves failed.
    LookupFailed { error: String },
}

fn list(values: &[String], more: usize) -> String {
    let mut text = values.join(", ");
    if more > 0 {
        text.push_str(&format!(" … and {more} more"));
    }
    text
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::MetricMissing { name, close } if close.is_empty() => write!(
                f,
                "metric {name} does not exist in this Prometheus (no series in the last hour): \
                 a typo, or nothing scrapes it"
            ),
            Finding::MetricMissing { name, close } => write!(
                f,
                "metric {name} does not exist in this Prometheus (no series in the last hour); \
                 did you mean {}?",
                close.join(" or ")
            ),
            Finding::LabelValueMissing {
                selector,
                matcher,
                label,
                existing,
                more,
                ..
            } => write!(
                f,
                "label {label}: no series of {selector} has {matcher}; {label} has: {}",
                list(existing, *more)
            ),
            Finding::LabelMissing {
                selector,
                matcher,
                label,
                labels,
            } => write!(
                f,
                "label {label}: no series of {selector} carries a label {label}, so {matcher} \
                 matches nothing; their labels: {}",
                list(labels, 0)
            ),
            Finding::Combination { selector } => write!(
                f,
                "each matcher of {selector} matches some series, but no series matches them all"
            ),
            Finding::NoSamples { selector, window } => write!(
                f,
                "{selector} has series, but no sample in the last {window}: no longer scraped, \
                 or the scrape fails"
            ),
            Finding::TooFewSamples {
                selector,
                window,
                most,
            } => write!(
                f,
                "{selector} has at most {most} sample(s) per series in [{window}]: a rate needs \
                 2. Series scraped for less than the window (a new pod, a new Prometheus) \
                 fill it within {window}; otherwise make the window at least twice the scrape \
                 interval"
            ),
            Finding::GroupingLabelMissing { label, selectors } => write!(
                f,
                "label {label}: the query groups or matches on {label}, which no series of {} \
                 carries",
                selectors.join(", ")
            ),
            Finding::NoSelector => f.write_str("the query selects no series at all"),
            Finding::OperatorsDropAll => f.write_str(
                "every selector has series with samples, so an operator drops them all: a binary \
                 operation whose two sides' labels differ (use on(...) or ignoring(...)), or a \
                 comparison filter",
            ),
            Finding::LookupFailed { error } => write!(f, "could not look up why: {error}"),
        }
    }
}

/// One query's answer, run once as an instant query.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum QueryAnswer {
    /// Series came back: how many, and the first one's value.
    Data { series: usize, value: Option<f64> },
    /// No series: why.
    Empty { why: Vec<Finding> },
    /// The engine's error, verbatim (or why it could not be asked).
    Error { error: String },
}

impl QueryAnswer {
    pub fn has_data(&self) -> bool {
        matches!(self, QueryAnswer::Data { .. })
    }
}

/// Asks the engine why queries answer with nothing; the metric names are read once.
pub struct Diagnoser<'a> {
    client: &'a PrometheusClient,
    now: DateTime<Utc>,
    /// Where its lookups queue in the client's budget (the console: the poll's own).
    priority: Priority,
    names: OnceCell<Vec<String>>,
}

impl<'a> Diagnoser<'a> {
    pub fn new(client: &'a PrometheusClient, now: DateTime<Utc>) -> Self {
        Self {
            client,
            now,
            priority: Priority::Open,
            names: OnceCell::new(),
        }
    }

    /// The same, its lookups queued at `priority` in the client's budget.
    pub fn with_priority(self, priority: Priority) -> Self {
        Self { priority, ..self }
    }

    fn range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let back = chrono::Duration::from_std(LOOKBACK).unwrap_or_default();
        (self.now - back, self.now)
    }

    /// `promql` as an instant query at `now`, and why when it answers with nothing.
    pub async fn run_once(&self, promql: &str) -> QueryAnswer {
        match self
            .client
            .query_with(self.priority, promql, self.now)
            .await
        {
            Err(e) => QueryAnswer::Error {
                error: e.to_string(),
            },
            Ok(response) => match response.data {
                QueryData::Vector(v) if v.is_empty() => QueryAnswer::Empty {
                    why: self.why_empty(promql).await,
                },
                QueryData::Vector(v) => QueryAnswer::Data {
                    series: v.len(),
                    value: v.first().map(|(_, s)| s.value),
                },
                QueryData::Matrix(m) if m.is_empty() => QueryAnswer::Empty {
                    why: self.why_empty(promql).await,
                },
                QueryData::Matrix(m) => QueryAnswer::Data {
                    series: m.len(),
                    value: m.first().and_then(|(_, s)| s.last()).map(|s| s.value),
                },
                QueryData::Scalar(s) => QueryAnswer::Data {
                    series: 1,
                    value: Some(s.value),
                },
            },
        }
    }

    /// Why `promql` answers with no series, in findings (never empty).
    pub async fn why_empty(&self, promql: &str) -> Vec<Finding> {
        match self.findings(promql).await {
            Ok(f) => f,
            Err(e) => vec![Finding::LookupFailed {
                error: e.to_string(),
            }],
        }
    }

    async fn findings(&self, promql: &str) -> Result<Vec<Finding>, PromError> {
        let scanned = scan(promql);
        if scanned.selectors.is_empty() {
            return Ok(vec![Finding::NoSelector]);
        }
        let mut findings = Vec::new();
        let mut healthy = Vec::new();
        for sel in scanned.selectors.iter().take(MAX_SELECTORS) {
            let found = self.selector(sel).await?;
            if found.is_empty() {
                healthy.push(sel);
            }
            findings.extend(found);
        }
        if findings.is_empty() {
            let mut labels: Vec<String> = Vec::new();
            for sel in &healthy {
                labels.extend(
                    self.client
                        .label_names_with(self.priority, Some(&sel.text()), self.range())
                        .await?,
                );
            }
            let selectors: Vec<String> = healthy.iter().map(|s| s.text()).collect();
            for label in &scanned.grouping {
                if !labels.contains(label) {
                    findings.push(Finding::GroupingLabelMissing {
                        label: label.clone(),
                        selectors: selectors.clone(),
                    });
                }
            }
        }
        if findings.is_empty() {
            findings.push(Finding::OperatorsDropAll);
        }
        Ok(findings)
    }

    async fn names(&self) -> Result<&Vec<String>, PromError> {
        self.names
            .get_or_try_init(|| async {
                self.client
                    .label_values_with(self.priority, "__name__", None, self.range(), 0)
                    .await
            })
            .await
    }

    async fn exists(&self, selector: &str) -> Result<bool, PromError> {
        Ok(!self
            .client
            .series_with(self.priority, selector, self.range(), 1)
            .await?
            .is_empty())
    }

    /// What is wrong with one selector (nothing: it has series with enough samples).
    async fn selector(&self, sel: &Selector) -> Result<Vec<Finding>, PromError> {
        if let Some(name) = &sel.name {
            let names = self.names().await?;
            if !names.contains(name) {
                return Ok(vec![Finding::MetricMissing {
                    name: name.clone(),
                    close: pick::close_names(name, names, MAX_CLOSE),
                }]);
            }
        }
        if !self.exists(&sel.text()).await? {
            return self.culprits(sel).await;
        }
        // (c) The series exist: are there samples in the window?
        let window = sel
            .range
            .as_deref()
            .map(|r| r.split(':').next().unwrap_or(r).trim().to_string())
            .unwrap_or_else(|| INSTANT_WINDOW.to_string());
        let q = format!("max(count_over_time({}[{window}]))", sel.text());
        let most = match self
            .client
            .query_with(self.priority, &q, self.now)
            .await?
            .data
        {
            QueryData::Vector(v) => v.first().map(|(_, s)| s.value),
            QueryData::Scalar(s) => Some(s.value),
            QueryData::Matrix(_) => None,
        };
        Ok(match most {
            None => vec![Finding::NoSamples {
                selector: sel.text(),
                window,
            }],
            Some(n) if n < 2.0 && sel.range.is_some() => vec![Finding::TooFewSamples {
                selector: sel.text(),
                window,
                most: n as u64,
            }],
            Some(_) => vec![],
        })
    }

    /// (b) The matchers of a selector that has no series: dropped one at a time.
    async fn culprits(&self, sel: &Selector) -> Result<Vec<Finding>, PromError> {
        let n = sel.matchers.len();
        let mut drops = Vec::with_capacity(n);
        for i in 0..n {
            drops.push(n > 1 && self.exists(&sel.text_without(Some(i))).await?);
        }
        let alone_selector = |i: usize| Selector {
            name: sel.name.clone(),
            matchers: vec![sel.matchers[i].clone()],
            range: None,
        };
        let mut alone = vec![true; n];
        if !drops.contains(&true) {
            for (i, a) in alone.iter_mut().enumerate() {
                *a = self.exists(&alone_selector(i).text()).await?;
            }
        }
        let culprits = pick::culprits(&drops, &alone);
        if culprits.is_empty() {
            return Ok(vec![Finding::Combination {
                selector: sel.text(),
            }]);
        }
        let single = drops.contains(&true);
        let mut findings = Vec::new();
        for i in culprits.into_iter().take(MAX_CULPRITS) {
            let m = &sel.matchers[i];
            // The series the other matchers select (or the name's alone).
            let rest = if single {
                sel.text_without(Some(i))
            } else {
                Selector {
                    name: sel.name.clone(),
                    matchers: vec![],
                    range: None,
                }
                .text()
            };
            let values = self
                .client
                .label_values_with(
                    self.priority,
                    &m.label,
                    Some(&rest),
                    self.range(),
                    MAX_VALUES,
                )
                .await?;
            if values.is_empty() {
                let labels = self
                    .client
                    .label_names_with(self.priority, Some(&rest), self.range())
                    .await?;
                findings.push(Finding::LabelMissing {
                    selector: rest,
                    matcher: m.raw.clone(),
                    label: m.label.clone(),
                    labels: labels.into_iter().filter(|l| l != "__name__").collect(),
                });
            } else {
                let (existing, more) = pick::shown_values(&values, &m.value);
                findings.push(Finding::LabelValueMissing {
                    selector: rest,
                    matcher: m.raw.clone(),
                    label: m.label.clone(),
                    asked: m.value.clone(),
                    existing,
                    more,
                });
            }
        }
        Ok(findings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_stub::{client, reply, stub, success, t};
    use serde_json::json;

    /// A Prometheus with one series `x{a="1"}` holding `samples` samples in any window.
    async fn one_series(samples: u32) -> crate::metrics::test_stub::Stub {
        stub(move |seen| {
            let path = seen.path.as_str();
            let data = if path.ends_with("/label/__name__/values") {
                json!(["x"])
            } else if path.ends_with("/series") {
                if seen.param("match[]").contains(r#"a="1""#) {
                    json!([{"__name__": "x", "a": "1"}])
                } else {
                    json!([])
                }
            } else if path.ends_with("/label/a/values") {
                json!(["1"])
            } else if path.ends_with("/labels") {
                json!(["__name__", "a"])
            } else if seen.param("query").starts_with("max(count_over_time(") {
                json!({"resultType": "vector", "result": [
                    {"metric": {}, "value": [1_700_000_000, samples.to_string()]}
                ]})
            } else {
                json!({"resultType": "vector", "result": []})
            };
            reply(200, success(data))
        })
        .await
    }

    #[tokio::test]
    async fn each_cause_is_found_over_the_api() {
        let server = one_series(1).await;
        let client = client(&server.url(""));
        let d = Diagnoser::new(&client, t(1_700_000_000));
        assert_eq!(
            d.why_empty(r#"sum by (pod) (rate(x{a="1"}[2s]))"#).await,
            [Finding::TooFewSamples {
                selector: r#"x{a="1"}"#.into(),
                window: "2s".into(),
                most: 1
            }]
        );
        assert_eq!(
            d.why_empty(r#"rate(y{a="1"}[1m])"#).await,
            [Finding::MetricMissing {
                name: "y".into(),
                close: vec!["x".into()]
            }]
        );
        let wrong = d.why_empty(r#"x{a="2"}"#).await;
        assert!(
            matches!(&wrong[..], [Finding::LabelValueMissing { label, existing, .. }]
                if label == "a" && existing == &["1".to_string()]),
            "{wrong:?}"
        );
        let server = one_series(5).await;
        let client = crate::metrics::test_stub::client(&server.url(""));
        let d = Diagnoser::new(&client, t(1_700_000_000));
        assert_eq!(
            d.why_empty(r#"sum by (pod) (rate(x{a="1"}[2s]))"#).await,
            [Finding::GroupingLabelMissing {
                label: "pod".into(),
                selectors: vec![r#"x{a="1"}"#.into()]
            }]
        );
        assert_eq!(
            d.why_empty("sum(rate(x{a=\"1\"}[1m])) > 1e9").await,
            [Finding::OperatorsDropAll]
        );
    }

    #[test]
    fn findings_say_what_to_fix() {
        let missing = Finding::MetricMissing {
            name: "http_request_total".into(),
            close: vec!["http_requests_total".into()],
        };
        assert_eq!(
            missing.to_string(),
            "metric http_request_total does not exist in this Prometheus (no series in the last \
             hour); did you mean http_requests_total?"
        );
        let value = Finding::LabelValueMissing {
            selector: r#"up{track="canary"}"#.into(),
            matcher: r#"job="chekout""#.into(),
            label: "job".into(),
            asked: "chekout".into(),
            existing: vec!["checkout".into(), "prometheus".into()],
            more: 3,
        };
        let text = value.to_string();
        assert!(
            text.starts_with("label job: no series of up{track=\"canary\"} has job=\"chekout\""),
            "{text}"
        );
        assert!(
            text.ends_with("job has: checkout, prometheus … and 3 more"),
            "{text}"
        );
        let few = Finding::TooFewSamples {
            selector: "x".into(),
            window: "2s".into(),
            most: 1,
        };
        assert!(
            few.to_string()
                .contains("at most 1 sample(s) per series in [2s]")
        );
    }
}
