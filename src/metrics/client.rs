//! The HTTP client for the Prometheus API (`/api/v1/query`, `/api/v1/query_range`): its own
//! settings (URL, timeout, bearer token file, basic auth, headers, CA file), building the URLs,
//! authorizing and sending requests. Anything speaking that API under a path prefix works too
//! (Mimir, Thanos, VictoriaMetrics).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Certificate, Url};
use tokio::sync::Semaphore;

use super::budget::{DEFAULT_MAX_QUERIES_PER_SECOND, Priority, QueryBudget};
use super::decode::{PromError, Response, parse_response, samples_touched};
use super::refusal::{self, Credentials};

/// Requests in flight at once, so a big config cannot stampede Prometheus.
pub const MAX_IN_FLIGHT: usize = 8;
/// Encoded parameters longer than this go in a POST body: proxies cap URL length.
const POST_ABOVE: usize = 1500;

mod catalog;

/// How to reach Prometheus (what the config's `[prometheus]` maps to).
#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusSettings {
    pub url: String,
    pub timeout: Duration,
    pub bearer_token_file: Option<PathBuf>,
    pub basic_auth: Option<BasicAuth>,
    pub headers: BTreeMap<String, String>,
    pub ca_file: Option<PathBuf>,
    /// The budget every query draws a token from (`[prometheus] max_queries_per_second`).
    pub max_queries_per_second: f64,
    /// Ask for `stats=all` and read the samples each query touched (`[prometheus] query_stats`;
    /// for the benchmark: Prometheus answers with more, so it is off by default).
    pub query_stats: bool,
}

impl PrometheusSettings {
    /// Settings for `url` with every other key at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_secs(5),
            bearer_token_file: None,
            basic_auth: None,
            headers: BTreeMap::new(),
            ca_file: None,
            max_queries_per_second: DEFAULT_MAX_QUERIES_PER_SECOND,
            query_stats: false,
        }
    }
}

impl From<&PrometheusSettings> for PrometheusSettings {
    fn from(settings: &PrometheusSettings) -> Self {
        settings.clone()
    }
}

/// A user name and the file holding the password.
#[derive(Debug, Clone, PartialEq)]
pub struct BasicAuth {
    pub username: String,
    pub password_file: PathBuf,
}

enum Auth {
    None,
    Bearer(HeaderValue),
    Basic { username: String, password: String },
}

pub struct PrometheusClient {
    http: reqwest::Client,
    query_url: Url,
    range_url: Url,
    /// The base URL without credentials, for messages.
    shown_url: String,
    auth: Auth,
    /// `[prometheus] ca_file`, named when the server's certificate is not trusted.
    ca_file: Option<PathBuf>,
    /// The token, the password and the header values: cut out of every error body (vmauth
    /// echoes a token it does not know).
    secrets: Vec<String>,
    header_names: Vec<String>,
    timeout: Duration,
    limit: Semaphore,
    budget: QueryBudget,
    query_stats: bool,
}

impl fmt::Debug for PrometheusClient {
    // By hand so tokens, passwords and header values never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            Auth::None => "none",
            Auth::Bearer(_) => "bearer token",
            Auth::Basic { .. } => "basic",
        };
        f.debug_struct("PrometheusClient")
            .field("url", &self.shown_url)
            .field("timeout", &self.timeout)
            .field("auth", &auth)
            .field("headers", &self.header_names)
            .field("query_stats", &self.query_stats)
            .finish_non_exhaustive()
    }
}

impl PrometheusClient {
    pub fn new(settings: impl Into<PrometheusSettings>) -> Result<Self, String> {
        let cfg = &settings.into();
        let base = base_url(&cfg.url)?;
        let join = |path: &str| {
            base.join(path)
                .map_err(|e| format!("prometheus.url cannot take {path}: {e}"))
        };
        let (query_url, range_url) = (join("api/v1/query")?, join("api/v1/query_range")?);

        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout);
        if let Some(path) = &cfg.ca_file {
            for cert in read_ca(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }

        let mut headers = HeaderMap::new();
        for (name, value) in &cfg.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("prometheus.headers: {name:?} is not a valid header name"))?;
            // The value may be a credential: name the header, not the value.
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                format!("prometheus.headers: the value of {name} is not a valid header value")
            })?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        builder = builder.default_headers(headers);

        let auth = match (&cfg.bearer_token_file, &cfg.basic_auth) {
            (Some(_), Some(_)) => {
                return Err("prometheus: set bearer_token_file or basic_auth, not both".to_string());
            }
            (Some(path), None) => {
                let token = read_secret(path, "[prometheus] bearer_token_file")?;
                let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    format!(
                        "bearer_token_file {}: the token has characters not allowed in an HTTP header",
                        path.display()
                    )
                })?;
                value.set_sensitive(true);
                Auth::Bearer(value)
            }
            (None, Some(basic)) => Auth::Basic {
                username: basic.username.clone(),
                password: read_secret(
                    &basic.password_file,
                    "[prometheus] basic_auth.password_file",
                )?,
            },
            (None, None) => Auth::None,
        };

        let mut secrets: Vec<String> = cfg.headers.values().cloned().collect();
        match &auth {
            Auth::Bearer(value) => secrets.extend(
                value
                    .to_str()
                    .ok()
                    .map(|v| v.trim_start_matches("Bearer ").to_string()),
            ),
            Auth::Basic { password, .. } => secrets.push(password.clone()),
            Auth::None => {}
        }
        secrets.retain(|s| !s.is_empty());

        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for Prometheus: {e}"))?;
        Ok(Self {
            http,
            query_url,
            range_url,
            shown_url: shown_url(&base),
            auth,
            ca_file: cfg.ca_file.clone(),
            secrets,
            header_names: cfg.headers.keys().cloned().collect(),
            timeout: cfg.timeout,
            limit: Semaphore::new(MAX_IN_FLIGHT),
            budget: QueryBudget::new(cfg.max_queries_per_second),
            query_stats: cfg.query_stats,
        })
    }

    /// The base URL without credentials.
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// The query budget this client draws from (for the debug log and the benchmark).
    pub fn budget(&self) -> &QueryBudget {
        &self.budget
    }

    /// An instant query at `at` (`/api/v1/query`) for the open rollout.
    pub async fn query(&self, promql: &str, at: DateTime<Utc>) -> Result<Response, PromError> {
        self.query_with(Priority::Open, promql, at).await
    }

    /// An instant query at `at`, waiting its turn in the budget at `priority`.
    pub async fn query_with(
        &self,
        priority: Priority,
        promql: &str,
        at: DateTime<Utc>,
    ) -> Result<Response, PromError> {
        let time = seconds(at.timestamp_millis());
        self.send(
            priority,
            &self.query_url,
            &[("query", promql), ("time", &time)],
        )
        .await
    }

    /// A range query over `[start, end]` every `step` (`/api/v1/query_range`) for the open
    /// rollout.
    pub async fn query_range(
        &self,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Response, PromError> {
        self.query_range_with(Priority::Open, promql, start, end, step)
            .await
    }

    /// A range query, waiting its turn in the budget at `priority`.
    pub async fn query_range_with(
        &self,
        priority: Priority,
        promql: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> Result<Response, PromError> {
        let (start, end) = (
            seconds(start.timestamp_millis()),
            seconds(end.timestamp_millis()),
        );
        let step = seconds(i64::try_from(step.as_millis()).unwrap_or(i64::MAX));
        let params = [
            ("query", promql),
            ("start", &start),
            ("end", &end),
            ("step", &step),
        ];
        self.send(priority, &self.range_url, &params).await
    }

    async fn send(
        &self,
        priority: Priority,
        url: &Url,
        params: &[(&str, &str)],
    ) -> Result<Response, PromError> {
        // A token first (the most urgent waiting query gets the next one), then a slot in flight.
        self.budget.take(priority).await;
        // What each poll asks, query by query (the debug line per poll only counts them).
        tracing::trace!(
            ?priority,
            endpoint = url.path(),
            params = ?params.iter().skip(1).map(|(_, v)| *v).collect::<Vec<_>>(),
            query = params.first().map_or("", |(_, q)| q),
            "query sent"
        );
        let with_stats: Vec<(&str, &str)>;
        let params = if self.query_stats {
            with_stats = params.iter().copied().chain([("stats", "all")]).collect();
            with_stats.as_slice()
        } else {
            params
        };
        let _permit =
            self.limit.acquire().await.map_err(|_| {
                PromError::Transport(format!("{}: client shut down", self.shown_url))
            })?;
        let get = self
            .authorize(self.http.get(url.clone()).query(params))
            .build()
            .map_err(|e| self.transport(e))?;
        let request = if get.url().query().map_or(0, str::len) > POST_ABOVE {
            self.authorize(self.http.post(url.clone()).form(params))
                .build()
                .map_err(|e| self.transport(e))?
        } else {
            get
        };
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        let redacted = (!(200..300).contains(&status))
            .then(|| refusal::redact(&body, &self.secrets))
            .flatten();
        let body = redacted.as_deref().unwrap_or(&body);
        let mut answer = parse_response(status, body).map_err(|e| {
            refusal::refused(
                refusal::no_route(e, body),
                self.credentials(),
                &self.shown_url,
            )
        })?;
        if self.query_stats {
            answer.samples_touched = samples_touched(body);
        }
        Ok(answer)
    }

    /// An error answer in words: the secrets cut out of its body, a refusal named by the
    /// credentials sent (the catalog endpoints' too).
    fn refused(&self, status: u16, body: &[u8], what: &str) -> PromError {
        let redacted = refusal::redact(body, &self.secrets);
        let body = redacted.as_deref().unwrap_or(body);
        let e = parse_response(status, body)
            .err()
            .unwrap_or_else(|| PromError::Decode(format!("{what}: the answer is not a list")));
        refusal::refused(
            refusal::no_route(e, body),
            self.credentials(),
            &self.shown_url,
        )
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(value) => request.header(AUTHORIZATION, value.clone()),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        }
    }

    /// What this client sends, for the words of a refusal.
    fn credentials(&self) -> Credentials {
        match &self.auth {
            Auth::None => Credentials::None,
            Auth::Bearer(_) => Credentials::Bearer,
            Auth::Basic { .. } => Credentials::Basic,
        }
    }

    fn transport(&self, e: reqwest::Error) -> PromError {
        if e.is_timeout() {
            return PromError::Timeout;
        }
        if let Some(words) = refusal::tls_words(&e, self.ca_file.as_deref()) {
            return PromError::Transport(format!("{}: {words}", self.shown_url));
        }
        // The request URL carries the whole query; the base URL says enough.
        let e = e.without_url();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let part = s.to_string();
            if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            source = s.source();
        }
        PromError::Transport(format!("{}: {text}", self.shown_url))
    }
}

fn base_url(raw: &str) -> Result<Url, String> {
    // The URL is not echoed: it may carry user:password.
    let mut url =
        Url::parse(raw.trim()).map_err(|e| format!("prometheus.url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err("prometheus.url must start with http:// or https://".to_string());
    }
    // Without a trailing slash, joining would replace the last path segment (the prefix).
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn shown_url(base: &Url) -> String {
    let mut url = base.clone();
    // Only fails for URLs that cannot have credentials in the first place.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.as_str().trim_end_matches('/').to_string()
}

/// A secret from its file, without the trailing newline: the one reader of every secret file
/// (Prometheus's token and password here; the deploy API's token and the webhook URL through
/// `config` and `setup`). An empty file is an error naming it: it would otherwise go out as
/// `Authorization: Bearer `.
pub fn read_secret(path: &Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(format!("{what} {} is empty", path.display()));
    }
    Ok(secret.to_string())
}

fn read_ca(path: &Path) -> Result<Vec<Certificate>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
    let certs = Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("ca_file {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM certificates",
            path.display()
        ));
    }
    Ok(certs)
}

/// Unix seconds as the API takes them, exact to the millisecond.
fn seconds(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs.is_multiple_of(1000) {
        format!("{sign}{}", abs / 1000)
    } else {
        format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_stub::{Reply, reply, stub};
    use crate::metrics::test_stub::{client, config, success, t};
    use serde_json::json;
    use std::io::Write as _;
    use tokio::net::TcpListener;

    // ---- Helpers ----

    fn secret_file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(contents.as_bytes()).expect("write");
        f
    }

    fn vector(value: &str) -> String {
        success(json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1_700_000_000, value]}
        ]}))
    }

    // ---- Construction ----

    #[test]
    fn secrets_are_read_and_never_shown() {
        let token = secret_file("s3cr3t-token\n");
        let cfg = PrometheusSettings {
            bearer_token_file: Some(token.path().to_path_buf()),
            headers: BTreeMap::from([("X-Scope-OrgID".to_string(), "tenant-a".to_string())]),
            ..config("http://admin:hunter2@127.0.0.1:9090/prometheus")
        };
        let client = PrometheusClient::new(&cfg).expect("client");
        let debug = format!("{client:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("tenant-a"), "{debug}");
        assert!(debug.contains("X-Scope-OrgID"), "{debug}");
        assert_eq!(client.url(), "http://127.0.0.1:9090/prometheus");
    }

    #[test]
    fn unreadable_secret_and_ca_files_are_named() {
        let cfg = PrometheusSettings {
            bearer_token_file: Some("/nonexistent/token".into()),
            ..config("http://127.0.0.1:9090")
        };
        let err = PrometheusClient::new(&cfg).expect_err("missing token");
        assert!(
            err.contains("bearer_token_file /nonexistent/token"),
            "{err}"
        );

        let empty = secret_file("\n");
        let cfg = PrometheusSettings {
            basic_auth: Some(BasicAuth {
                username: "u".into(),
                password_file: empty.path().to_path_buf(),
            }),
            ..config("http://127.0.0.1:9090")
        };
        let err = PrometheusClient::new(&cfg).expect_err("empty password");
        assert!(
            err.contains("password_file") && err.contains("is empty"),
            "{err}"
        );

        let ca = secret_file("not a certificate");
        let cfg = PrometheusSettings {
            ca_file: Some(ca.path().to_path_buf()),
            ..config("https://127.0.0.1:9090")
        };
        let err = PrometheusClient::new(&cfg).expect_err("bad ca");
        assert!(err.contains(&ca.path().display().to_string()), "{err}");

        let err = PrometheusClient::new(config("ftp://x")).expect_err("scheme");
        assert!(err.contains("http://"), "{err}");
    }

    // ---- Over HTTP ----

    #[tokio::test]
    async fn path_prefix_auth_and_tenant_header() {
        let server = stub(|_| reply(200, vector("1"))).await;
        let token = secret_file("tok-123\r\n");
        for prefix in ["/prometheus", "/prometheus/"] {
            let cfg = PrometheusSettings {
                bearer_token_file: Some(token.path().to_path_buf()),
                headers: BTreeMap::from([("X-Scope-OrgID".to_string(), "tenant-a".to_string())]),
                ..config(&server.url(prefix))
            };
            let client = PrometheusClient::new(&cfg).expect("client");
            client.query("up", t(1_700_000_000)).await.expect("query");
            client
                .query_range(
                    "up",
                    t(1_700_000_000),
                    t(1_700_000_060),
                    Duration::from_secs(15),
                )
                .await
                .expect("range");
        }
        let seen = server.seen();
        assert_eq!(seen.len(), 4);
        for (i, s) in seen.iter().enumerate() {
            let want = if i % 2 == 0 {
                "/prometheus/api/v1/query"
            } else {
                "/prometheus/api/v1/query_range"
            };
            assert_eq!(s.method, "GET");
            assert_eq!(s.path, want);
            assert_eq!(s.header("authorization"), Some("Bearer tok-123"));
            assert_eq!(s.header("x-scope-orgid"), Some("tenant-a"));
            assert_eq!(s.param("query"), "up");
        }
        assert_eq!(seen[0].param("time"), "1700000000");
        assert_eq!(seen[1].param("start"), "1700000000");
        assert_eq!(seen[1].param("end"), "1700000060");
        assert_eq!(seen[1].param("step"), "15");
    }

    #[tokio::test]
    async fn basic_auth_and_root_url() {
        let server = stub(|_| reply(200, vector("1"))).await;
        let password = secret_file("pa:ss\n");
        let cfg = PrometheusSettings {
            basic_auth: Some(BasicAuth {
                username: "alice".into(),
                password_file: password.path().to_path_buf(),
            }),
            ..config(&server.url(""))
        };
        let client = PrometheusClient::new(&cfg).expect("client");
        client
            .query(
                "up",
                DateTime::from_timestamp_millis(1_700_000_000_250).expect("t"),
            )
            .await
            .expect("query");
        let seen = server.seen();
        assert_eq!(seen[0].path, "/api/v1/query");
        assert_eq!(seen[0].param("time"), "1700000000.250");
        // base64("alice:pa:ss")
        assert_eq!(
            seen[0].header("authorization"),
            Some("Basic YWxpY2U6cGE6c3M=")
        );
    }

    #[tokio::test]
    async fn long_queries_are_posted_as_a_form() {
        let server = stub(|_| reply(200, vector("1"))).await;
        let client = client(&server.url("/prom"));
        let long = format!("sum(rate(x{{a=\"{}\"}}[1m]))", "y&z ".repeat(500));
        client.query(&long, t(1_700_000_000)).await.expect("long");
        client.query("up", t(1_700_000_000)).await.expect("short");
        let seen = server.seen();
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].path, "/prom/api/v1/query");
        assert_eq!(
            seen[0].header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(seen[0].param("query"), long);
        assert_eq!(seen[0].param("time"), "1700000000");
        assert!(seen[0].body.starts_with("query="), "{}", seen[0].body);
        assert_eq!(seen[1].method, "GET");
    }

    #[tokio::test]
    async fn api_errors_arrive_verbatim_over_http() {
        let said = "1:5: parse error: unexpected end of input";
        let body = json!({"status": "error", "errorType": "bad_data", "error": said}).to_string();
        let server = stub(move |_| reply(400, &body)).await;
        let err = client(&server.url(""))
            .query("up{", t(1_700_000_000))
            .await
            .expect_err("400");
        assert_eq!(
            err.to_string(),
            format!("{said} (Prometheus rejected the query; HTTP 400, bad_data)")
        );
    }

    /// A budget of 2 per second: 6 queries at once, and at every moment no more have reached
    /// the server than the bucket allows (a burst of 2, then 2 a second). Bounds only, measured
    /// on the real clock after the fact, so a slow machine cannot make it fail.
    #[tokio::test]
    async fn the_client_sends_no_more_than_its_budget() {
        let server = stub(|_| reply(200, vector("1"))).await;
        let cfg = PrometheusSettings {
            max_queries_per_second: 2.0,
            ..config(&server.url(""))
        };
        let client = std::sync::Arc::new(PrometheusClient::new(&cfg).expect("client"));
        let created = std::time::Instant::now();
        let all = {
            let client = std::sync::Arc::clone(&client);
            tokio::spawn(async move {
                let queries = (0..6).map(|i| {
                    let priority = if i % 2 == 0 {
                        Priority::Open
                    } else {
                        Priority::Background
                    };
                    let client = &client;
                    async move { client.query_with(priority, "up", t(1_700_000_000)).await }
                });
                futures::future::join_all(queries).await
            })
        };
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let seen = server.seen().len();
            let allowed = 2.0 + 2.0 * created.elapsed().as_secs_f64();
            assert!(
                seen as f64 <= allowed,
                "{seen} queries sent by {:?}",
                created.elapsed()
            );
        }
        for answer in all.await.expect("task") {
            answer.expect("query");
        }
        assert_eq!(server.seen().len(), 6);
        // 2 at once, then 4 more at 2 a second: never faster than 2 seconds.
        assert!(
            created.elapsed() >= Duration::from_millis(1_950),
            "{:?}",
            created.elapsed()
        );
        let taken = client.budget().taken();
        assert_eq!(taken.map(|(_, n)| n), [3, 0, 3]);
    }

    #[tokio::test]
    async fn stats_are_asked_for_only_when_set_and_read_when_given() {
        let server = stub(|seen| {
            let mut body = json!({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {}, "value": [1_700_000_000, "1"]}
            ]}});
            if seen.param("stats") == "all" {
                body["data"]["stats"] = json!({
                    "timings": {"evalTotalTime": 0.001},
                    "samples": {"totalQueryableSamples": 1234, "peakSamples": 12,
                                "totalQueryableSamplesPerStep": [[1_700_000_000, 1234]]}
                });
            }
            reply(200, body)
        })
        .await;
        let plain = client(&server.url(""));
        let answer = plain.query("up", t(1_700_000_000)).await.expect("plain");
        assert_eq!(answer.samples_touched, None);

        let cfg = PrometheusSettings {
            query_stats: true,
            ..config(&server.url(""))
        };
        let with_stats = PrometheusClient::new(&cfg).expect("client");
        let answer = with_stats
            .query("up", t(1_700_000_000))
            .await
            .expect("stats");
        assert_eq!(answer.samples_touched, Some(1234));
        let range = with_stats
            .query_range(
                "up",
                t(1_700_000_000),
                t(1_700_000_060),
                Duration::from_secs(15),
            )
            .await;
        // A vector where a matrix belongs is the source's business; the stats are still read.
        assert_eq!(range.expect("range").samples_touched, Some(1234));

        let seen = server.seen();
        assert_eq!(seen[0].param("stats"), "");
        assert_eq!(seen[1].param("stats"), "all");
        assert_eq!(seen[2].param("stats"), "all");
        assert_eq!(seen[2].param("step"), "15");
    }

    #[tokio::test]
    async fn a_slow_server_hits_the_timeout() {
        let server = stub(|_| Reply {
            delay: Duration::from_secs(3),
            ..reply(200, vector("1"))
        })
        .await;
        let cfg = PrometheusSettings {
            timeout: Duration::from_millis(200),
            ..config(&server.url(""))
        };
        let started = std::time::Instant::now();
        let err = PrometheusClient::new(&cfg)
            .expect("client")
            .query("up", t(1_700_000_000))
            .await
            .expect_err("timeout");
        assert_eq!(err, PromError::Timeout);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("prometheus.timeout"), "{err}");
    }

    #[tokio::test]
    async fn connection_refused_names_the_url_without_credentials() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let client = client(&format!("http://admin:hunter2@{addr}/prom"));
        let err = client
            .query("up", t(1_700_000_000))
            .await
            .expect_err("refused");
        let PromError::Transport(detail) = &err else {
            panic!("not Transport: {err:?}")
        };
        assert!(
            detail.starts_with(&format!("http://{addr}/prom: ")),
            "{detail}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("cannot reach Prometheus at http://"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("admin"),
            "{text}"
        );
        assert!(!text.contains("query="), "{text}");
    }
}
