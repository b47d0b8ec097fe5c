//! The Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`) and a `MetricsSource` on it.
//! Anything speaking that API under a path prefix works too (Mimir, Thanos, VictoriaMetrics).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Certificate, StatusCode, Url};
use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};
use tokio::sync::Semaphore;

use super::counts::{self as counting, Answers};
use super::template::{self, Vars};
use super::{
    Counters, CountsQuery, EmptyAnswer, EmptyTrack, FetchRequest, FetchResult, MetricQuery,
    MetricsSource, SloQuery, TrackSeries,
};
use crate::config::PrometheusConfig;
use crate::domain::counts::{self as grids, CountKind, Counts};
use crate::domain::slo::{BURN_WINDOWS, SloMeasurement};
use crate::domain::{Sample, Series};

/// Requests in flight at once, so a big config cannot stampede Prometheus.
pub const MAX_IN_FLIGHT: usize = 8;
/// `$window` of a metric query that does not set one.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Encoded parameters longer than this go in a POST body: proxies cap URL length.
const POST_ABOVE: usize = 1500;
const EXCERPT_CHARS: usize = 160;

pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub data: QueryData,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryData {
    Vector(Vec<(Labels, Sample)>),
    Matrix(Vec<(Labels, Vec<Sample>)>),
    Scalar(Sample),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PromError {
    /// Prometheus answered with its own error; the text is exactly what it said.
    Api {
        status: u16,
        error_type: String,
        error: String,
    },
    Timeout,
    /// No answer at all (refused, DNS, TLS); names the URL, never credentials.
    Transport(String),
    /// A success status with a body that is not the Prometheus API.
    Decode(String),
    /// An error status with a body that is not the Prometheus API (a proxy or load balancer).
    Http {
        status: u16,
        body_excerpt: String,
    },
    /// A valid answer of a kind the console cannot use (strings, native histograms).
    Unsupported(String),
}

impl fmt::Display for PromError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromError::Api {
                status,
                error_type,
                error,
            } => {
                let what = match status {
                    400 => "Prometheus rejected the query",
                    422 => "Prometheus could not execute the query",
                    503 => "Prometheus is unavailable or overloaded",
                    _ => "Prometheus returned an error",
                };
                // Prometheus's own words first: they name what to fix, and a one-line view cuts
                // the end.
                write!(f, "{error} ({what}; HTTP {status}, {error_type})")
            }
            PromError::Timeout => f.write_str(
                "Prometheus did not answer within prometheus.timeout (overloaded, or the query is too heavy)",
            ),
            PromError::Transport(detail) => write!(f, "cannot reach Prometheus at {detail}"),
            PromError::Decode(detail) => write!(f, "not a Prometheus API response: {detail}"),
            PromError::Http {
                status,
                body_excerpt,
            } => {
                let reason = StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let hint = match status {
                    401 | 403 => " (check bearer_token_file / basic_auth)",
                    404 => " (check prometheus.url and its path prefix)",
                    _ => "",
                };
                write!(
                    f,
                    "Prometheus answered HTTP {status} {reason}{hint}: {body_excerpt}"
                )
            }
            PromError::Unsupported(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for PromError {}

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
    header_names: Vec<String>,
    timeout: Duration,
    limit: Semaphore,
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
            .finish_non_exhaustive()
    }
}

impl PrometheusClient {
    pub fn new(cfg: &PrometheusConfig) -> Result<Self, String> {
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
                let token = read_secret(path, "bearer_token_file")?;
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
                password: read_secret(&basic.password_file, "basic_auth.password_file")?,
            },
            (None, None) => Auth::None,
        };

        let http = builder
            .build()
            .map_err(|e| format!("cannot set up the HTTP client for Prometheus: {e}"))?;
        Ok(Self {
            http,
            query_url,
            range_url,
            shown_url: shown_url(&base),
            auth,
            header_names: cfg.headers.keys().cloned().collect(),
            timeout: cfg.timeout,
            limit: Semaphore::new(MAX_IN_FLIGHT),
        })
    }

    /// The base URL without credentials.
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// An instant query at `at` (`/api/v1/query`).
    pub async fn query(&self, promql: &str, at: DateTime<Utc>) -> Result<Response, PromError> {
        let time = seconds(at.timestamp_millis());
        self.send(&self.query_url, &[("query", promql), ("time", &time)])
            .await
    }

    /// A range query over `[start, end]` every `step` (`/api/v1/query_range`).
    pub async fn query_range(
        &self,
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
        self.send(&self.range_url, &params).await
    }

    async fn send(&self, url: &Url, params: &[(&str, &str)]) -> Result<Response, PromError> {
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
        parse_response(status, &body)
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(value) => request.header(AUTHORIZATION, value.clone()),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
        }
    }

    fn transport(&self, e: reqwest::Error) -> PromError {
        if e.is_timeout() {
            return PromError::Timeout;
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

fn read_secret(path: &Path, what: &str) -> Result<String, String> {
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

// ---- Response parsing: straight from JSON into samples, no intermediate `Value`. ----

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<RawData>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum RawData {
    Vector(Vec<RawInstant>),
    Matrix(RawMatrix),
    Scalar(Pair),
    String(IgnoredAny),
}

#[derive(Deserialize)]
struct RawInstant {
    #[serde(default)]
    metric: Labels,
    value: Option<Pair>,
}

/// Matrix series straight into their final shape.
struct RawMatrix {
    series: Vec<(Labels, Vec<Sample>)>,
    /// A series held only native histogram samples.
    histograms: bool,
}

/// `[1435781451.781, "1"]`
struct Pair(Sample);

/// Series of a range query have nearly the same length: size each like the one before,
/// so 360 points cost one allocation instead of a doubling chain.
struct PairsSeed<'a>(&'a mut usize);

struct SeriesSeed<'a>(&'a mut usize);

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum SeriesField {
    Metric,
    Values,
    Histograms,
    #[serde(other)]
    Other,
}

/// `"1.5"`, `"NaN"`, `"+Inf"`, `"-Inf"`
struct Value(f64);

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pair;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [timestamp, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
                let ts: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let Value(value) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let at = timestamp(ts).ok_or_else(|| {
                    de::Error::invalid_value(Unexpected::Float(ts), &"a Unix timestamp")
                })?;
                Ok(Pair(Sample { at, value }))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for RawMatrix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMatrix;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of series")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawMatrix, A::Error> {
                let mut matrix = RawMatrix {
                    series: Vec::new(),
                    histograms: false,
                };
                let mut len_hint = 0;
                while let Some((labels, samples, histograms)) =
                    seq.next_element_seed(SeriesSeed(&mut len_hint))?
                {
                    if samples.is_empty() && histograms {
                        matrix.histograms = true;
                    }
                    matrix.series.push((labels, samples));
                }
                Ok(matrix)
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> DeserializeSeed<'de> for SeriesSeed<'_> {
    type Value = (Labels, Vec<Sample>, bool);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SeriesSeed<'_> {
    type Value = (Labels, Vec<Sample>, bool);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series {\"metric\": {...}, \"values\": [...]}")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut labels, mut samples, mut histograms) = (Labels::new(), Vec::new(), false);
        while let Some(field) = map.next_key()? {
            match field {
                SeriesField::Metric => labels = map.next_value()?,
                SeriesField::Values => samples = map.next_value_seed(PairsSeed(&mut *self.0))?,
                SeriesField::Histograms => {
                    map.next_value::<IgnoredAny>()?;
                    histograms = true;
                }
                SeriesField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((labels, samples, histograms))
    }
}

impl<'de> DeserializeSeed<'de> for PairsSeed<'_> {
    type Value = Vec<Sample>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Sample>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairsSeed<'_> {
    type Value = Vec<Sample>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of [timestamp, \"value\"] pairs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Sample>, A::Error> {
        let guess = seq.size_hint().unwrap_or(*self.0).max(16);
        let mut out = Vec::with_capacity(guess);
        while let Some(Pair(sample)) = seq.next_element()? {
            out.push(sample);
        }
        *self.0 = out.len();
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample value string")
            }
            // Borrowed or not, `visit_str` sees the text without allocating.
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
                let value = match s {
                    "NaN" => f64::NAN,
                    "+Inf" | "Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    _ => s
                        .parse()
                        .map_err(|_| E::invalid_value(Unexpected::Str(s), &self))?,
                };
                Ok(Value(value))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

fn timestamp(ts: f64) -> Option<DateTime<Utc>> {
    if !ts.is_finite() {
        return None;
    }
    DateTime::from_timestamp_millis((ts * 1000.0).round() as i64)
}

/// Parses an API answer. An error status with a Prometheus error body is `Api`, verbatim.
pub fn parse_response(status: u16, body: &[u8]) -> Result<Response, PromError> {
    let ok = (200..300).contains(&status);
    let envelope = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope,
        Err(e) if ok => return Err(PromError::Decode(format!("{} ({e})", excerpt(body)))),
        Err(_) => {
            return Err(PromError::Http {
                status,
                body_excerpt: excerpt(body),
            });
        }
    };
    match (envelope.status.as_str(), envelope.data) {
        ("error", _) => Err(PromError::Api {
            status,
            error_type: envelope.error_type.unwrap_or_default(),
            error: envelope.error.unwrap_or_default(),
        }),
        ("success", Some(data)) if ok => Ok(Response {
            data: convert(data)?,
            warnings: envelope.warnings,
        }),
        _ if !ok => Err(PromError::Http {
            status,
            body_excerpt: excerpt(body),
        }),
        (other, _) => Err(PromError::Decode(format!(
            "status {other:?} without data: {}",
            excerpt(body)
        ))),
    }
}

fn convert(data: RawData) -> Result<QueryData, PromError> {
    const HISTOGRAMS: &str = "native histogram results are not supported; \
        wrap the query in histogram_quantile(...) or histogram_sum(...)";
    Ok(match data {
        RawData::Vector(items) => QueryData::Vector(
            items
                .into_iter()
                .map(|i| match i.value {
                    Some(Pair(sample)) => Ok((i.metric, sample)),
                    None => Err(PromError::Unsupported(HISTOGRAMS.to_string())),
                })
                .collect::<Result<_, _>>()?,
        ),
        RawData::Matrix(matrix) if matrix.histograms => {
            return Err(PromError::Unsupported(HISTOGRAMS.to_string()));
        }
        RawData::Matrix(matrix) => QueryData::Matrix(matrix.series),
        RawData::Scalar(Pair(sample)) => QueryData::Scalar(sample),
        RawData::String(_) => {
            return Err(PromError::Unsupported(
                "string results are not supported; the query must return numbers".to_string(),
            ));
        }
    })
}

/// The start of a body, on one line, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(EXCERPT_CHARS * 4)]);
    let mut out = String::new();
    let mut chars = 0;
    let mut truncated = false;
    for word in text.split_whitespace() {
        if chars >= EXCERPT_CHARS {
            truncated = true;
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars().filter(|c| !c.is_control()) {
            if chars >= EXCERPT_CHARS {
                truncated = true;
                break;
            }
            out.push(c);
            chars += 1;
        }
    }
    if out.is_empty() {
        return "(empty body)".to_string();
    }
    if truncated || body.len() > EXCERPT_CHARS * 4 {
        out.push('…');
    }
    out
}

// ---- The metrics source ----

/// Label matchers and names the templates are filled with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selectors {
    /// Raw matchers for the baseline track, e.g. `job="checkout", track="baseline"`.
    pub baseline: String,
    pub canary: String,
    /// Raw matchers for the whole service (SLOs).
    pub service: String,
    /// The rollout name, a value (escaped on the way in).
    pub rollout: String,
}

/// A metric's error while the track selectors come from pod-template hashes not read yet.
pub const NO_TRACKS_YET: &str = "no baseline/canary selector yet: waiting for the rollout's \
    pod-template hashes from the backend (or set baseline and canary in [[rollouts]])";

#[derive(Debug)]
pub struct PrometheusSource {
    client: PrometheusClient,
    selectors: Selectors,
    /// Metric-name lookups behind empty answers, by the two rendered queries: the name that
    /// has no series (`None`: all exist). Asked once per query; forgotten once it has data.
    empty_lookups: std::sync::Mutex<std::collections::HashMap<String, Option<String>>>,
}

/// One metric's or SLO's share of a poll.
struct Outcome<T> {
    result: Result<T, String>,
    warnings: Vec<String>,
    queries: usize,
}

impl<T> Outcome<T> {
    fn failed(error: String) -> Self {
        Self {
            result: Err(error),
            warnings: Vec::new(),
            queries: 0,
        }
    }
}

impl PrometheusSource {
    pub fn new(client: PrometheusClient, selectors: Selectors) -> Self {
        Self {
            client,
            selectors,
            empty_lookups: Default::default(),
        }
    }

    pub fn client(&self) -> &PrometheusClient {
        &self.client
    }

    fn vars<'a>(&'a self, selector: &'a str, window: Duration) -> Vars<'a> {
        let set = |s: &'a str| Some(s).filter(|s| !s.trim().is_empty());
        Vars {
            selector: set(selector),
            service: set(&self.selectors.service),
            window: Some(window),
            rollout: set(&self.selectors.rollout),
        }
    }

    async fn fetch_metric(
        &self,
        query: &MetricQuery,
        (baseline, canary): (&str, &str),
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> (Outcome<TrackSeries>, Option<EmptyAnswer>) {
        let window = query.window.unwrap_or(DEFAULT_WINDOW);
        let render = |selector: &str| template::render(&query.query, &self.vars(selector, window));
        let (baseline, canary) = match (render(baseline), render(canary)) {
            (Ok(b), Ok(c)) => (b, c),
            (Err(_), _) | (_, Err(_)) if baseline.trim().is_empty() || canary.trim().is_empty() => {
                return (Outcome::failed(NO_TRACKS_YET.into()), None);
            }
            (Err(e), _) | (_, Err(e)) => return (Outcome::failed(e), None),
        };
        let key = format!("{baseline}\n{canary}");
        let promql = canary.clone();
        let (baseline, canary) = futures::join!(
            self.client.query_range(&baseline, start, end, step),
            self.client.query_range(&canary, start, end, step),
        );
        let mut warnings = Vec::new();
        let result = match (baseline, canary) {
            // Prometheus down: say it once, not once per track.
            (Err(b), Err(c)) if b == c => Err(b.to_string()),
            (baseline, canary) => {
                let baseline = one_series(baseline, "baseline", &mut warnings);
                let canary = one_series(canary, "canary", &mut warnings);
                match (baseline, canary) {
                    (Ok(baseline), Ok(canary)) => Ok(TrackSeries { baseline, canary }),
                    (Err(b), Err(c)) => Err(format!("{b}; {c}")),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
        };
        let empty = match &result {
            Ok(t) => {
                let track = match (t.baseline.is_empty(), t.canary.is_empty()) {
                    (true, true) => Some(EmptyTrack::Both),
                    (true, false) => Some(EmptyTrack::Baseline),
                    (false, true) => Some(EmptyTrack::Canary),
                    (false, false) => None,
                };
                self.why_empty(&key, &promql, track, end).await
            }
            Err(_) => None,
        };
        let outcome = Outcome {
            result,
            warnings,
            queries: 2,
        };
        (outcome, empty)
    }

    /// Why a track's answer has no series: a metric name in the query that has no series at
    /// all, else the track's selector. One instant `count` per name, once per query (not
    /// counted in `queries`, the per-poll budget); a failed lookup says nothing.
    async fn why_empty(
        &self,
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
                    match self.client.query(&q, at).await {
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

    /// A metric's raw counters, counted per track between the points of the shared grid: one
    /// range query per counter per track, decoded by `metrics::counts`.
    async fn fetch_counts(
        &self,
        metric: &MetricQuery,
        counts: &CountsQuery,
        (baseline, canary): (&str, &str),
        now: DateTime<Utc>,
        step: Duration,
    ) -> Outcome<Counts> {
        let templates = match &counts.counters {
            Counters::Histogram(buckets) => vec![("histogram", buckets.as_str())],
            Counters::Ratio { errors, total } => {
                vec![("errors", errors.as_str()), ("total", total.as_str())]
            }
        };
        let mut queries = Vec::with_capacity(templates.len() * 2);
        for (_, counter) in &templates {
            match (
                self.render_counter(counter, baseline),
                self.render_counter(counter, canary),
            ) {
                (Ok(b), Ok(c)) => queries.extend([b, c]),
                (Err(_), _) | (_, Err(_))
                    if baseline.trim().is_empty() || canary.trim().is_empty() =>
                {
                    return Outcome::failed(NO_TRACKS_YET.into());
                }
                (Err(e), _) | (_, Err(e)) => return Outcome::failed(e),
            }
        }
        let grid = grids::grid(counts.since, now, step);
        let (Some(&start), Some(&second), Some(&end)) = (grid.first(), grid.get(1), grid.last())
        else {
            // Nothing to count yet (a histogram's bounds are known from its first answer).
            let kind = match counts.counters {
                Counters::Histogram(_) => CountKind::Latency { bounds: Vec::new() },
                Counters::Ratio { .. } => CountKind::Errors,
            };
            return Outcome {
                result: Ok(Counts {
                    kind,
                    blocks: Vec::new(),
                }),
                warnings: Vec::new(),
                queries: 0,
            };
        };
        let spacing = Duration::from_millis((second - start).num_milliseconds().unsigned_abs());
        let responses = join_all(
            queries
                .iter()
                .map(|q| self.client.query_range(q, start, end, spacing)),
        )
        .await;

        let mut warnings = Vec::new();
        let mut matrices = Vec::with_capacity(responses.len());
        let mut failures: Vec<PromError> = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut responses = responses.into_iter();
        for (counter, _) in &templates {
            let (Some(baseline), Some(canary)) = (responses.next(), responses.next()) else {
                break;
            };
            if let (Err(b), Err(c)) = (&baseline, &canary)
                && b == c
            {
                // The same answer for both tracks: say it once.
                errors.push(format!("{counter} counter query: {b}"));
                failures.extend([b.clone(), c.clone()]);
                continue;
            }
            for (track, response) in [("baseline", baseline), ("canary", canary)] {
                match response {
                    Ok(Response {
                        data: QueryData::Matrix(series),
                        warnings: said,
                    }) => {
                        warnings.extend(said);
                        matrices.push(series);
                    }
                    Ok(_) => errors.push(format!(
                        "{track} {counter} counter query: expected a range result (matrix) \
                         from query_range"
                    )),
                    Err(e) => {
                        errors.push(format!("{track} {counter} counter query: {e}"));
                        failures.push(e);
                    }
                }
            }
        }
        let queries_sent = queries.len();
        if !errors.is_empty() {
            // Prometheus down: say it once, not once per query.
            let result = match failures.split_first() {
                Some((first, rest))
                    if failures.len() == queries_sent && rest.iter().all(|e| e == first) =>
                {
                    first.to_string()
                }
                _ => errors.join("; "),
            };
            return Outcome {
                result: Err(result),
                warnings,
                queries: queries_sent,
            };
        }
        let answers = |counter: usize| Answers {
            baseline_query: &queries[counter * 2],
            canary_query: &queries[counter * 2 + 1],
            baseline: &matrices[counter * 2],
            canary: &matrices[counter * 2 + 1],
        };
        let result = match &counts.counters {
            Counters::Histogram(_) => counting::histogram(&grid, answers(0)).map(|(c, said)| {
                warnings.extend(said.into_iter().map(|w| format!("{}: {w}", metric.name)));
                c
            }),
            Counters::Ratio { .. } => counting::ratio(&grid, answers(0), answers(1)),
        };
        Outcome {
            result,
            warnings,
            queries: queries_sent,
        }
    }

    /// A counter's query for one track: the metric's variables, but no `$window` (a counter is
    /// read raw, never as a rate).
    fn render_counter(&self, counter: &str, selector: &str) -> Result<String, String> {
        let with_window = self.vars(selector, DEFAULT_WINDOW);
        let raw = Vars {
            window: None,
            ..with_window
        };
        template::render(counter, &raw).map_err(|e| {
            if template::render(counter, &with_window).is_ok() {
                format!(
                    "counter query {counter} uses $window, but counters are read raw, \
                     never as a rate or increase: select the bare counter, {}",
                    "e.g. http_requests_total{$selector}"
                )
            } else {
                e
            }
        })
    }

    async fn fetch_slo(&self, slo: &SloQuery, at: DateTime<Utc>) -> Outcome<SloMeasurement> {
        let slo_label = template::prom_duration(slo.window);
        let windows: Vec<(&str, Duration)> = std::iter::once((slo_label.as_str(), slo.window))
            .chain(BURN_WINDOWS)
            .collect();
        let mut queries = Vec::with_capacity(windows.len());
        for (_, window) in &windows {
            match template::render(&slo.error_ratio, &self.vars("", *window)) {
                Ok(q) => queries.push(q),
                Err(e) => return Outcome::failed(e),
            }
        }
        let responses = join_all(queries.iter().map(|q| self.client.query(q, at))).await;
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
        }
    }
}

/// Names looked up behind one empty answer, at most.
const MAX_NAME_LOOKUPS: usize = 3;

/// The metric names a PromQL expression selects (`rate(http_requests_total{job="x"}[1m])` →
/// `http_requests_total`): identifiers outside strings, braces and brackets that are not
/// functions, keywords or numbers.
fn metric_names(promql: &str) -> Vec<String> {
    // Keywords and aggregation operators (`sum by (le) (…)` has no parenthesis after `sum`).
    const KEYWORDS: [&str; 31] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
        "atan2",
        "start",
        "end",
        "step",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    let chars: Vec<char> = promql.chars().collect();
    let mut names: Vec<String> = Vec::new();
    let (mut i, mut depth) = (0, 0usize);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                // Skip the string, escapes included.
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                depth += 1;
                i += 1;
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                let is_name = depth == 0
                    && !c.is_ascii_digit()
                    && next != Some(&'(')
                    && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
                    && !names.contains(&word);
                // `sum by (le)`: the labels after a grouping keyword are not names.
                if is_name && !in_grouping(&chars[..start]) {
                    names.push(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Whether the text ends inside a `by (` / `without (` / `on (` / `ignoring (` / `group_*(`
/// label list.
fn in_grouping(before: &[char]) -> bool {
    let text: String = before.iter().collect();
    let Some(open) = text.rfind('(') else {
        return false;
    };
    if text[open..].contains(')') {
        return false;
    }
    let head = text[..open].trim_end();
    [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ]
    .iter()
    .any(|k| head.ends_with(k))
}

/// A range answer as one track's series: one series, or none (no data yet).
fn one_series(
    response: Result<Response, PromError>,
    track: &str,
    warnings: &mut Vec<String>,
) -> Result<Series, String> {
    let response = response.map_err(|e| format!("{track} query: {e}"))?;
    warnings.extend(response.warnings);
    match response.data {
        QueryData::Matrix(mut series) => match series.len() {
            0 => Ok(Series::default()),
            1 => Ok(Series::new(
                series.pop().map(|(_, s)| s).unwrap_or_default(),
            )),
            n => Err(format!(
                "query returned {n} series for the {track}; aggregate it (e.g. sum(...) or sum by (...))"
            )),
        },
        QueryData::Vector(_) | QueryData::Scalar(_) => Err(format!(
            "{track} query: expected a range result (matrix) from query_range"
        )),
    }
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

/// Each API warning once per poll, in the order first seen.
fn merge_warnings(into: &mut Vec<String>, warnings: Vec<String>) {
    for w in warnings {
        if !into.contains(&w) {
            into.push(w);
        }
    }
}

/// `at` rounded down to a whole `step` since the epoch, so every range query shares timestamps.
fn align_down(at_ms: i64, step_ms: i64) -> DateTime<Utc> {
    let ms = at_ms.div_euclid(step_ms) * step_ms;
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[async_trait]
impl MetricsSource for PrometheusSource {
    fn describe(&self) -> String {
        format!("Prometheus at {}", self.client.shown_url)
    }

    async fn fetch(&self, request: &FetchRequest) -> FetchResult {
        let step_ms = i64::try_from(request.step.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let step = Duration::from_millis(step_ms.unsigned_abs());
        let now_ms = request.now.timestamp_millis();
        let lookback_ms = i64::try_from(request.lookback.as_millis()).unwrap_or(i64::MAX);
        let end = align_down(now_ms, step_ms);
        let start = align_down(now_ms.saturating_sub(lookback_ms), step_ms);

        let tracks = match &request.tracks {
            Some(t) => (t.baseline.as_str(), t.canary.as_str()),
            None => (
                self.selectors.baseline.as_str(),
                self.selectors.canary.as_str(),
            ),
        };
        let metrics = join_all(
            request
                .metrics
                .iter()
                .map(|q| self.fetch_metric(q, tracks, start, end, step)),
        );
        let slos = join_all(request.slos.iter().map(|s| self.fetch_slo(s, request.now)));
        let counted: Vec<(&MetricQuery, &CountsQuery)> = request
            .metrics
            .iter()
            .filter_map(|q| Some((q, q.counts.as_ref()?)))
            .collect();
        let counts = join_all(
            counted
                .iter()
                .map(|(q, c)| self.fetch_counts(q, c, tracks, request.now, request.step)),
        );
        let (metrics, slos, counts) = futures::join!(metrics, slos, counts);

        let mut result = FetchResult::default();
        for (query, (outcome, empty)) in request.metrics.iter().zip(metrics) {
            result.queries += outcome.queries;
            if let Some(why) = empty {
                result.empty.push((query.name.clone(), why));
            }
            merge_warnings(&mut result.warnings, outcome.warnings);
            result.metrics.push((query.name.clone(), outcome.result));
        }
        for (slo, outcome) in request.slos.iter().zip(slos) {
            result.queries += outcome.queries;
            merge_warnings(&mut result.warnings, outcome.warnings);
            result.slos.push((slo.name.clone(), outcome.result));
        }
        for ((query, _), outcome) in counted.iter().zip(counts) {
            result.queries += outcome.queries;
            merge_warnings(&mut result.warnings, outcome.warnings);
            result.counts.push((query.name.clone(), outcome.result));
        }
        tracing::debug!(
            queries = result.queries,
            metrics = result.metrics.len(),
            slos = result.slos.len(),
            counts = result.counts.len(),
            warnings = result.warnings.len(),
            "prometheus poll"
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BasicAuth;
    use crate::metrics::test_stub::{Reply, Seen, reply, stub};
    use serde_json::json;
    use std::io::Write as _;
    use tokio::net::TcpListener;

    // ---- Helpers ----

    fn config(url: &str) -> PrometheusConfig {
        PrometheusConfig {
            url: url.to_string(),
            timeout: Duration::from_secs(5),
            bearer_token_file: None,
            basic_auth: None,
            headers: BTreeMap::new(),
            ca_file: None,
        }
    }

    fn client(url: &str) -> PrometheusClient {
        PrometheusClient::new(&config(url)).expect("client")
    }

    fn secret_file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("tempfile");
        f.write_all(contents.as_bytes()).expect("write");
        f
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
    }

    fn success(data: serde_json::Value) -> String {
        json!({"status": "success", "data": data}).to_string()
    }

    fn vector(value: &str) -> String {
        success(json!({"resultType": "vector", "result": [
            {"metric": {}, "value": [1_700_000_000, value]}
        ]}))
    }

    fn ok(body: &str) -> Response {
        parse_response(200, body.as_bytes()).expect("parses")
    }

    // ---- parse_response ----

    #[test]
    fn parses_a_vector() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"checkout"},"value":[1435781451.781,"1"]},
            {"metric":{"job":"cart"},"value":[1435781451.781,"0.25"]}]}}"#;
        let Response { data, warnings } = ok(body);
        assert!(warnings.is_empty());
        let QueryData::Vector(samples) = data else {
            panic!("not a vector: {data:?}")
        };
        assert_eq!(samples.len(), 2);
        assert_eq!(
            samples[0].0.get("job").map(String::as_str),
            Some("checkout")
        );
        assert_eq!(samples[0].0.get("__name__").map(String::as_str), Some("up"));
        assert_eq!(samples[0].1.at.timestamp_millis(), 1_435_781_451_781);
        assert_eq!(samples[0].1.value, 1.0);
        assert_eq!(samples[1].1.value, 0.25);
    }

    #[test]
    fn parses_a_matrix_with_nan_and_infinities() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"track":"canary"},"values":[[1700000000,"0.5"],[1700000015,"NaN"],
             [1700000030,"+Inf"],[1700000045,"-Inf"],[1700000060,"1e-3"]]}]}}"#;
        let QueryData::Matrix(series) = ok(body).data else {
            panic!("not a matrix")
        };
        assert_eq!(series.len(), 1);
        let points = &series[0].1;
        let values: Vec<f64> = points.iter().map(|s| s.value).collect();
        assert_eq!(values[0], 0.5);
        assert!(values[1].is_nan());
        assert_eq!(values[2], f64::INFINITY);
        assert_eq!(values[3], f64::NEG_INFINITY);
        assert_eq!(values[4], 0.001);
        assert_eq!(points[1].at, t(1_700_000_015));
    }

    #[test]
    fn parses_a_scalar_and_keeps_warnings() {
        let body = r#"{"status":"success","warnings":["PromQL info: metric might not be a counter","partial"],
            "data":{"resultType":"scalar","result":[1700000000.5,"42"]}}"#;
        let response = ok(body);
        assert_eq!(
            response.data,
            QueryData::Scalar(Sample {
                at: DateTime::from_timestamp_millis(1_700_000_000_500).expect("time"),
                value: 42.0
            })
        );
        assert_eq!(
            response.warnings,
            vec!["PromQL info: metric might not be a counter", "partial"]
        );
    }

    #[test]
    fn tolerates_extra_fields_and_result_before_type() {
        // Other implementations add fields and do not promise key order.
        let body = r#"{"isPartial":false,"data":{"result":[{"metric":{},"value":[1,"2"]}],
            "stats":{"seriesFetched":"1"},"resultType":"vector"},"status":"success","infos":["x"]}"#;
        let QueryData::Vector(samples) = ok(body).data else {
            panic!("not a vector")
        };
        assert_eq!(samples[0].1.value, 2.0);
    }

    #[test]
    fn string_results_and_native_histograms_are_unsupported() {
        let body = r#"{"status":"success","data":{"resultType":"string","result":[1,"hello"]}}"#;
        let err = parse_response(200, body.as_bytes()).expect_err("string");
        assert!(matches!(err, PromError::Unsupported(_)));
        assert!(
            err.to_string().contains("string results are not supported"),
            "{err}"
        );

        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"histogram":[1,{"count":"2","sum":"3","buckets":[]}]}]}}"#;
        let err = parse_response(200, body.as_bytes()).expect_err("histogram");
        assert!(err.to_string().contains("native histogram"), "{err}");
    }

    #[test]
    fn matrix_of_native_histograms_is_unsupported() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"histograms":[[1,{"count":"2","sum":"3"}]]}]}}"#;
        let err = parse_response(200, body.as_bytes()).expect_err("histograms");
        assert!(matches!(err, PromError::Unsupported(_)), "{err:?}");
    }

    #[test]
    fn bad_data_is_shown_verbatim() {
        let said = r#"1:14: parse error: unexpected "}" in label matching, expected string"#;
        let body = json!({"status": "error", "errorType": "bad_data", "error": said}).to_string();
        let err = parse_response(400, body.as_bytes()).expect_err("400");
        assert_eq!(
            err,
            PromError::Api {
                status: 400,
                error_type: "bad_data".into(),
                error: said.into()
            }
        );
        assert_eq!(
            err.to_string(),
            format!("{said} (Prometheus rejected the query; HTTP 400, bad_data)")
        );
    }

    #[test]
    fn unavailable_json_and_html_503() {
        let body = r#"{"status":"error","errorType":"unavailable","error":"too many queries"}"#;
        let err = parse_response(503, body.as_bytes()).expect_err("503");
        assert!(matches!(err, PromError::Api { status: 503, .. }));
        assert!(err.to_string().contains("unavailable"), "{err}");
        assert!(err.to_string().starts_with("too many queries ("), "{err}");

        let html = "<html>\n<body>\n<h1>503 Service   Unavailable</h1>\n</body></html>";
        let err = parse_response(503, html.as_bytes()).expect_err("html");
        assert_eq!(
            err,
            PromError::Http {
                status: 503,
                body_excerpt: "<html> <body> <h1>503 Service Unavailable</h1> </body></html>"
                    .into()
            }
        );
        assert!(
            err.to_string()
                .starts_with("Prometheus answered HTTP 503 Service Unavailable: ")
        );

        let err = parse_response(401, b"").expect_err("401");
        assert!(err.to_string().contains("check bearer_token_file"), "{err}");
        assert!(err.to_string().contains("(empty body)"), "{err}");
    }

    #[test]
    fn garbage_with_200_is_a_decode_error_with_an_excerpt() {
        let body = format!("<!doctype html><title>Grafana</title>{}", "x".repeat(1000));
        let err = parse_response(200, body.as_bytes()).expect_err("garbage");
        let PromError::Decode(detail) = &err else {
            panic!("not Decode: {err:?}")
        };
        assert!(
            detail.starts_with("<!doctype html><title>Grafana</title>"),
            "{detail}"
        );
        assert!(detail.len() < 400, "excerpt too long: {}", detail.len());
        assert!(
            err.to_string()
                .starts_with("not a Prometheus API response: <!doctype")
        );

        // Valid JSON, wrong shape.
        let err = parse_response(200, br#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}"#)
            .expect_err("bad value");
        assert!(matches!(err, PromError::Decode(_)), "{err:?}");
    }

    // ---- Construction ----

    #[test]
    fn secrets_are_read_and_never_shown() {
        let token = secret_file("s3cr3t-token\n");
        let cfg = PrometheusConfig {
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
        let cfg = PrometheusConfig {
            bearer_token_file: Some("/nonexistent/token".into()),
            ..config("http://127.0.0.1:9090")
        };
        let err = PrometheusClient::new(&cfg).expect_err("missing token");
        assert!(
            err.contains("bearer_token_file /nonexistent/token"),
            "{err}"
        );

        let empty = secret_file("\n");
        let cfg = PrometheusConfig {
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
        let cfg = PrometheusConfig {
            ca_file: Some(ca.path().to_path_buf()),
            ..config("https://127.0.0.1:9090")
        };
        let err = PrometheusClient::new(&cfg).expect_err("bad ca");
        assert!(err.contains(&ca.path().display().to_string()), "{err}");

        let err = PrometheusClient::new(&config("ftp://x")).expect_err("scheme");
        assert!(err.contains("http://"), "{err}");
    }

    // ---- Over HTTP ----

    #[tokio::test]
    async fn path_prefix_auth_and_tenant_header() {
        let server = stub(|_| reply(200, vector("1"))).await;
        let token = secret_file("tok-123\r\n");
        for prefix in ["/prometheus", "/prometheus/"] {
            let cfg = PrometheusConfig {
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
        let cfg = PrometheusConfig {
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

    #[tokio::test]
    async fn a_slow_server_hits_the_timeout() {
        let server = stub(|_| Reply {
            delay: Duration::from_secs(3),
            ..reply(200, vector("1"))
        })
        .await;
        let cfg = PrometheusConfig {
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

    // ---- The metrics source ----

    const BASELINE: &str = r#"job="checkout", track="baseline""#;
    const CANARY: &str = r#"job="checkout", track="canary""#;

    fn source(url: &str) -> PrometheusSource {
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

    fn metric(name: &str, query: &str) -> MetricQuery {
        MetricQuery {
            name: name.into(),
            query: query.into(),
            window: None,
            counts: None,
        }
    }

    /// One point per step over the requested range, valued by track.
    fn range_answer(seen: &Seen, series: usize, warn: bool) -> Reply {
        let param = |k: &str| seen.param(k).parse::<f64>().expect("number param");
        let (start, end, step) = (param("start"), param("end"), param("step"));
        let canary = seen.param("query").contains("canary");
        let mut values = Vec::new();
        let mut at = start;
        while at <= end {
            let v = if at == start {
                "NaN".to_string()
            } else if canary {
                "0.2".to_string()
            } else {
                "0.1".to_string()
            };
            values.push(json!([at, v]));
            at += step;
        }
        let result: Vec<_> = (0..series)
            .map(|i| json!({"metric": {"pod": format!("p{i}")}, "values": values}))
            .collect();
        let mut body =
            json!({"status": "success", "data": {"resultType": "matrix", "result": result}});
        if warn {
            body["warnings"] = json!(["partial response: store-1 unreachable"]);
        }
        reply(200, body)
    }

    #[tokio::test]
    async fn fetch_maps_one_none_and_many_series_per_metric() {
        let server = stub(|seen| {
            let q = seen.param("query");
            if q.starts_with("latency") {
                range_answer(seen, 1, true)
            } else if q.starts_with("empty") {
                range_answer(seen, 0, true)
            } else if q.starts_with("by_pod") && q.contains("canary") {
                range_answer(seen, 3, false)
            } else if q.starts_with("by_pod") {
                range_answer(seen, 1, false)
            } else {
                reply(
                    400,
                    json!({"status": "error", "errorType": "bad_data", "error": "nope"}),
                )
            }
        })
        .await;
        let src = source(&server.url("/"));
        let request = FetchRequest {
            now: DateTime::from_timestamp_millis(1_700_000_017_500).expect("now"),
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![
                MetricQuery {
                    window: Some(Duration::from_secs(90)),
                    ..metric("p95", "latency{$selector}[$window]")
                },
                metric("rps", "empty{$selector}[$window]"),
                metric("errors", "by_pod{$selector}"),
                metric("typo", "latency{$selectr}"),
                metric("broken", "broken{$selector}"),
            ],
            slos: vec![],
            tracks: None,
        };
        let result = src.fetch(&request).await;

        let names: Vec<&str> = result.metrics.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p95", "rps", "errors", "typo", "broken"]);

        let p95 = result.metrics[0].1.as_ref().expect("p95");
        assert_eq!(p95.baseline.points.len(), 41);
        let at = |s: &Series| s.points.iter().map(|p| p.at).collect::<Vec<_>>();
        assert_eq!(at(&p95.baseline), at(&p95.canary));
        assert!(p95.canary.points[0].value.is_nan());
        assert_eq!(p95.canary.points[1].value, 0.2);
        assert_eq!(p95.baseline.points[1].value, 0.1);

        let rps = result.metrics[1].1.as_ref().expect("rps");
        assert!(rps.baseline.is_empty() && rps.canary.is_empty());

        let errors = result.metrics[2].1.as_ref().expect_err("many series");
        assert_eq!(
            errors,
            "query returned 3 series for the canary; aggregate it (e.g. sum(...) or sum by (...))"
        );

        let typo = result.metrics[3].1.as_ref().expect_err("typo");
        assert!(typo.contains("$selectr"), "{typo}");

        let broken = result.metrics[4].1.as_ref().expect_err("broken");
        assert_eq!(
            broken,
            "nope (Prometheus rejected the query; HTTP 400, bad_data)"
        );

        // Two per metric that rendered; none for the typo.
        assert_eq!(result.queries, 8);
        assert_eq!(result.warnings, ["partial response: store-1 unreachable"]);

        // Plus one name lookup behind the empty answer (not in the per-poll budget).
        let seen = server.seen();
        assert_eq!(seen.len(), 9);
        let p95_queries: Vec<&str> = seen
            .iter()
            .map(|s| s.param("query"))
            .filter(|q| q.starts_with("latency"))
            .collect();
        assert!(p95_queries.contains(&format!("latency{{{BASELINE}}}[1m30s]").as_str()));
        assert!(p95_queries.contains(&format!("latency{{{CANARY}}}[1m30s]").as_str()));
        let rps_query = seen
            .iter()
            .map(|s| s.param("query"))
            .find(|q| q.starts_with("empty"))
            .expect("rps sent");
        assert!(rps_query.ends_with("[1m]"), "default window: {rps_query}");
        for s in seen
            .iter()
            .filter(|s| !s.param("query").starts_with("count("))
        {
            assert_eq!(s.path, "/api/v1/query_range");
            // Aligned to the step, the same for every query.
            assert_eq!(s.param("start"), "1699999410");
            assert_eq!(s.param("end"), "1700000010");
            assert_eq!(s.param("step"), "15");
        }
    }

    #[tokio::test]
    async fn per_poll_tracks_replace_the_selectors_and_missing_ones_say_why() {
        let server = stub(|_| {
            reply(
                200,
                success(json!({"resultType": "matrix", "result": [
                    {"metric": {}, "values": [[1_700_000_000, "1"]]}
                ]})),
            )
        })
        .await;
        // Pod-hash mode: nothing configured for the tracks.
        let src = PrometheusSource::new(
            client(&server.url("")),
            Selectors {
                baseline: String::new(),
                canary: String::new(),
                service: r#"job="checkout""#.into(),
                rollout: "checkout".into(),
            },
        );
        let mut request = FetchRequest {
            now: t(1_700_000_000),
            lookback: Duration::from_secs(60),
            step: Duration::from_secs(15),
            metrics: vec![metric("p95", "latency{$selector}")],
            slos: vec![],
            tracks: None,
        };
        let waiting = src.fetch(&request).await;
        assert_eq!(
            waiting.metrics[0].1.as_ref().expect_err("no tracks yet"),
            NO_TRACKS_YET
        );
        assert!(server.seen().is_empty(), "nothing is guessed or sent");

        request.tracks = Some(crate::metrics::Tracks {
            baseline: r#"rollouts_pod_template_hash="5f7c9d6b8""#.into(),
            canary: r#"rollouts_pod_template_hash="7b9f4c6d5""#.into(),
        });
        let answered = src.fetch(&request).await;
        assert!(answered.metrics[0].1.is_ok(), "{answered:?}");
        let mut queries: Vec<String> = server
            .seen()
            .iter()
            .map(|s| s.param("query").to_string())
            .collect();
        queries.sort();
        assert_eq!(
            queries,
            [
                r#"latency{rollouts_pod_template_hash="5f7c9d6b8"}"#,
                r#"latency{rollouts_pod_template_hash="7b9f4c6d5"}"#
            ]
        );
    }

    /// Raw counters per track: point k of the range is `start + k*step`; the canary serves a
    /// tenth of the baseline and its pod restarted before the last point.
    fn counter_answer(seen: &Seen) -> Reply {
        let param = |k: &str| seen.param(k).parse::<i64>().expect("whole seconds");
        let (start, end, step) = (param("start"), param("end"), param("step"));
        let q = seen.param("query");
        if q.starts_with("broken") {
            return reply(
                400,
                json!({"status": "error", "errorType": "bad_data", "error": "nope"}),
            );
        }
        let canary = q.contains("canary");
        let points = (end - start) / step + 1;
        let series = |labels: serde_json::Value, per_point: i64| {
            let values: Vec<_> = (0..points)
                .map(|k| {
                    let v = if canary && k == points - 1 {
                        per_point // restarted: counted once since
                    } else {
                        1_000 * per_point + k * per_point
                    };
                    json!([start + k * step, v.to_string()])
                })
                .collect();
            json!({"metric": labels, "values": values})
        };
        let scale = if canary { 1 } else { 10 };
        let result = if q.starts_with("http_request_duration_seconds_bucket") {
            vec![
                series(json!({"le": "0.1"}), 6 * scale),
                series(json!({"le": "0.50"}), 9 * scale),
                series(json!({"le": "+Inf"}), 10 * scale),
            ]
        } else if q.contains("5..") {
            vec![series(json!({"code": "500"}), scale)]
        } else {
            vec![
                series(json!({"code": "200"}), 9 * scale),
                series(json!({"code": "500"}), scale),
            ]
        };
        reply(
            200,
            success(json!({"resultType": "matrix", "result": result})),
        )
    }

    #[tokio::test]
    async fn counts_are_one_raw_range_query_per_counter_per_track_over_the_grid() {
        use crate::domain::counts::{CountKind, grid};
        use crate::metrics::{Counters, CountsQuery};
        let server = stub(counter_answer).await;
        let src = source(&server.url(""));
        let now = DateTime::from_timestamp_millis(1_700_000_017_500).expect("now");
        let since = t(1_700_000_000 - 60);
        let counted = |name: &str, counters: Counters| MetricQuery {
            counts: Some(CountsQuery { counters, since }),
            ..metric(name, "x{$selector}")
        };
        let mut request = FetchRequest {
            now,
            lookback: Duration::from_secs(600),
            step: Duration::from_secs(15),
            metrics: vec![
                counted(
                    "p95",
                    Counters::Histogram("http_request_duration_seconds_bucket{$selector}".into()),
                ),
                metric("plain", "x{$selector}"),
                counted(
                    "errors",
                    Counters::Ratio {
                        errors: r#"http_requests_total{$selector, code=~"5.."}"#.into(),
                        total: "http_requests_total{$selector}".into(),
                    },
                ),
                counted(
                    "windowed",
                    Counters::Histogram("rate(x_bucket{$selector}[$window])".into()),
                ),
                counted(
                    "broken",
                    Counters::Ratio {
                        errors: "broken{$selector}".into(),
                        total: "http_requests_total{$selector}".into(),
                    },
                ),
            ],
            slos: vec![],
            tracks: None,
        };
        let result = src.fetch(&request).await;
        let names: Vec<&str> = result.counts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p95", "errors", "windowed", "broken"]);
        // 2 per metric, 2 for the histogram, 4 per ratio, none for `$window`.
        assert_eq!(result.queries, 5 * 2 + 2 + 4 + 4);

        let points = grid(since, now, Duration::from_secs(15));
        assert_eq!(points.first(), Some(&t(1_699_999_935)));
        assert_eq!(points.last(), Some(&t(1_700_000_010)));
        let p95 = result.counts[0].1.as_ref().expect("p95");
        assert_eq!(
            p95.kind,
            CountKind::Latency {
                bounds: vec![0.1, 0.5, f64::INFINITY]
            }
        );
        assert_eq!(p95.blocks.len(), points.len() - 1);
        for (block, pair) in p95.blocks.iter().zip(points.windows(2)) {
            assert_eq!((block.start, block.end), (pair[0], pair[1]));
            assert_eq!(block.baseline, [60.0, 30.0, 10.0]);
        }
        let canary: Vec<&[f64]> = p95.blocks.iter().map(|b| b.canary.as_slice()).collect();
        assert_eq!(
            canary[..canary.len() - 1],
            vec![&[6.0, 3.0, 1.0][..]; 4][..]
        );
        // The restarted canary pod counted one point's worth since its reset.
        assert_eq!(canary.last(), Some(&&[6.0, 3.0, 1.0][..]));

        let errors = result.counts[1].1.as_ref().expect("errors");
        assert_eq!(errors.kind, CountKind::Errors);
        assert!(
            errors
                .blocks
                .iter()
                .all(|b| b.baseline == [10.0, 90.0] && b.canary == [1.0, 9.0])
        );

        let windowed = result.counts[2].1.as_ref().expect_err("$window");
        assert!(
            windowed.starts_with("counter query rate(x_bucket{$selector}[$window]) uses $window"),
            "{windowed}"
        );

        let broken = result.counts[3].1.as_ref().expect_err("broken");
        assert_eq!(
            broken,
            "errors counter query: nope (Prometheus rejected the query; HTTP 400, bad_data)"
        );

        let seen = server.seen();
        let ranges: Vec<&Seen> = seen
            .iter()
            .filter(|s| !s.param("query").starts_with(['x', 'b']))
            .collect();
        // The broken metric's total counter was sent too.
        assert_eq!(ranges.len(), 8);
        for s in &ranges {
            assert_eq!(s.path, "/api/v1/query_range");
            assert_eq!(s.param("start"), "1699999935");
            assert_eq!(s.param("end"), "1700000010");
            assert_eq!(s.param("step"), "15");
            assert!(!s.param("query").contains('$'), "{}", s.param("query"));
        }
        let mut queries: Vec<&str> = ranges.iter().map(|s| s.param("query")).collect();
        queries.sort_unstable();
        queries.dedup();
        assert_eq!(
            queries,
            [
                format!("http_request_duration_seconds_bucket{{{BASELINE}}}"),
                format!("http_request_duration_seconds_bucket{{{CANARY}}}"),
                format!("http_requests_total{{{BASELINE}, code=~\"5..\"}}"),
                format!("http_requests_total{{{BASELINE}}}"),
                format!("http_requests_total{{{CANARY}, code=~\"5..\"}}"),
                format!("http_requests_total{{{CANARY}}}"),
            ]
        );

        // Pod-hash tracks of the poll replace the configured selectors, as for the series.
        request.metrics.truncate(1);
        request.tracks = Some(crate::metrics::Tracks {
            baseline: r#"rollouts_pod_template_hash="5f7c9d6b8""#.into(),
            canary: r#"rollouts_pod_template_hash="7b9f4c6d5""#.into(),
        });
        let before = server.seen().len();
        let hashed = src.fetch(&request).await;
        assert!(hashed.counts[0].1.is_ok(), "{hashed:?}");
        let sent: Vec<String> = server.seen()[before..]
            .iter()
            .map(|s| s.param("query").to_string())
            .filter(|q| q.starts_with("http_request_duration"))
            .collect();
        assert_eq!(sent.len(), 2);
        assert!(
            sent.iter()
                .all(|q| q.contains("rollouts_pod_template_hash="))
        );

        // The canary started this very step: one point, no block yet, nothing sent.
        request.metrics[0].counts = Some(CountsQuery {
            counters: Counters::Histogram("http_request_duration_seconds_bucket{$selector}".into()),
            since: t(1_700_000_012),
        });
        let before = server.seen().len();
        let fresh = src.fetch(&request).await;
        let counts = fresh.counts[0].1.as_ref().expect("no blocks");
        assert!(counts.blocks.is_empty());
        assert_eq!(fresh.queries, 2, "only the metric's own queries");
        assert_eq!(server.seen().len(), before + 2);
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_fails_each_metric_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let src = source(&format!("http://{addr}"));
        assert_eq!(src.describe(), format!("Prometheus at http://{addr}"));
        let result = src
            .fetch(&FetchRequest {
                now: t(1_700_000_000),
                lookback: Duration::from_secs(60),
                step: Duration::from_secs(15),
                metrics: vec![MetricQuery {
                    counts: Some(crate::metrics::CountsQuery {
                        counters: crate::metrics::Counters::Ratio {
                            errors: r#"errors{$selector}"#.into(),
                            total: r#"total{$selector}"#.into(),
                        },
                        since: t(1_700_000_000 - 60),
                    }),
                    ..metric("p95", "latency{$selector}")
                }],
                slos: vec![],
                tracks: None,
            })
            .await;
        let err = result.metrics[0].1.as_ref().expect_err("down");
        assert!(
            err.starts_with("cannot reach Prometheus at http://"),
            "{err}"
        );
        assert!(!err.contains("baseline"), "reported once: {err}");
        let counts = result.counts[0].1.as_ref().expect_err("down");
        assert!(
            counts.starts_with("cannot reach Prometheus at http://") && !counts.contains(';'),
            "reported once: {counts}"
        );
        assert_eq!(result.queries, 2 + 4);
    }

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
                },
                SloQuery {
                    name: "aggregated badly".into(),
                    error_ratio: "many{$service}[$window]".into(),
                    window: Duration::from_secs(86_400),
                },
                SloQuery {
                    name: "selector in an SLO".into(),
                    error_ratio: "x{$selector}".into(),
                    window: Duration::from_secs(86_400),
                },
            ],
            tracks: None,
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

    #[test]
    fn metric_names_skip_functions_labels_strings_and_keywords() {
        assert_eq!(
            metric_names(
                r#"histogram_quantile(0.95, sum by (le) (rate(http_bucket{job="a", x=~"b{1}"}[5m] offset 1m)))"#
            ),
            ["http_bucket"]
        );
        assert_eq!(
            metric_names("sum(rate(errors_total{$x}[1m])) / sum(rate(requests_total[1m]))"),
            ["errors_total", "requests_total"]
        );
        assert_eq!(metric_names("vector(1) and on (pod) up > 0.5e3"), ["up"]);
    }

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
