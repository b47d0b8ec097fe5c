//! The stub HTTP server of the unit tests of the Prometheus client and source (the integration
//! tests' axum stub, `tests/common/stub.rs`, included here: one stub for both), seen through
//! the small API these tests use, and the fixtures they share.

use std::time::Duration;

use reqwest::Url;

#[path = "../../tests/common/stub.rs"]
mod shared;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// URL query and form body parameters, decoded.
    pub params: Vec<(String, String)>,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// What the shared stub recorded, with the query (and, for a POST, the body) decoded.
    fn from_request(request: &shared::Request) -> Seen {
        let mut params = decode_pairs(request.query_string());
        if request.method == "POST" {
            params.extend(decode_pairs(&request.body));
        }
        Seen {
            method: request.method.clone(),
            path: request.path().to_string(),
            params,
            headers: request.headers.clone(),
            body: request.body.clone(),
        }
    }
}

/// A JSON answer, after `delay`.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

pub fn reply(status: u16, body: impl ToString) -> Reply {
    Reply {
        status,
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

pub struct Stub {
    server: shared::Stub,
}

impl Stub {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url)
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.server
            .requests()
            .iter()
            .map(Seen::from_request)
            .collect()
    }
}

/// Start a stub answering every request with `handler(&seen)`. (`async` for the callers'
/// sake: the stub runs on its own thread and runtime.)
pub async fn stub(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Stub {
    let server = shared::start(move |request| {
        let Reply {
            status,
            body,
            delay,
        } = handler(&Seen::from_request(request));
        shared::Reply::slow(delay, shared::Reply::Json(status, body))
    });
    Stub { server }
}

pub fn decode_pairs(encoded: &str) -> Vec<(String, String)> {
    Url::parse(&format!("http://stub/?{encoded}"))
        .expect("pairs")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

// ---- Fixtures shared by the Prometheus unit tests ----

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::metrics::MetricQuery;
use crate::metrics::client::{PrometheusClient, PrometheusSettings};
use crate::metrics::source::{PrometheusSource, Selectors};

pub const BASELINE: &str = r#"job="checkout", track="baseline""#;
pub const CANARY: &str = r#"job="checkout", track="canary""#;

pub fn config(url: &str) -> PrometheusSettings {
    PrometheusSettings::new(url)
}

pub fn client(url: &str) -> PrometheusClient {
    PrometheusClient::new(config(url)).expect("client")
}

pub fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

pub fn success(data: serde_json::Value) -> String {
    json!({"status": "success", "data": data}).to_string()
}

pub fn source(url: &str) -> PrometheusSource {
    PrometheusSource::new(
        client(url),
        Selectors {
            baseline: BASELINE.into(),
            canary: CANARY.into(),
            service: r#"job="checkout""#.into(),
            rollout: "checkout".into(),
        },
    )
}

pub fn metric(name: &str, query: &str) -> MetricQuery {
    MetricQuery {
        name: name.into(),
        query: query.into(),
        window: None,
        counts: None,
    }
}

/// `member` of a grouped fleet of `members` (by `rollout`, tracks by `hash`), with the
/// tracks' hashes `(stable, canary)` and `[fleet] service`.
pub fn fleet_member(
    members: &[&str],
    member: &str,
    (stable, canary): (&str, &str),
    service: &str,
) -> crate::metrics::ForRollout {
    crate::metrics::ForRollout {
        name: member.into(),
        selectors: None,
        group: Some(Box::new(crate::metrics::Group {
            label: "rollout".into(),
            hash_label: "hash".into(),
            service: service.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            member: member.into(),
            stable_hash: stable.into(),
            canary_hash: canary.into(),
            lookback: Duration::from_secs(60),
            slo_fresh_for: Duration::from_secs(60),
            counted_since: vec![None; members.len()],
            recorded: false,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stub's answers that are not HTTP (the raw escape hatch, and closing without a word)
    /// reach the client as failed requests, and the request is still recorded.
    #[tokio::test]
    async fn answers_that_are_not_http_fail_the_request() {
        for (what, answer) in [
            ("bytes", shared::Reply::bytes("SSH-2.0-OpenSSH_9.6\r\n")),
            ("close", shared::Reply::Close),
        ] {
            let server = shared::start(move |_| answer.clone());
            let result = client(&server.url).query("up", t(1_700_000_000)).await;
            assert!(result.is_err(), "{what}: {result:?}");
            assert_eq!(server.requests().len(), 1, "{what}");
            assert_eq!(server.requests()[0].param("query").as_deref(), Some("up"));
        }
    }
}
