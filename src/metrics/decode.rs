//! Decoding the Prometheus API's answers (straight from JSON into samples) and its errors.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

use crate::domain::Sample;

const EXCERPT_CHARS: usize = 160;

/// A series' labels. Shared text: an answer's series repeat the same few names and values
/// (`le`, `rollout`, a pod's hash), and decoding each as its own `String` was a third of a
/// fleet console's allocations (heaptrack); an answer's decoding keeps one copy of each.
pub type Labels = BTreeMap<Arc<str>, Arc<str>>;

/// The label texts met so far in one answer.
type Interned = HashSet<Arc<str>>;

fn intern(seen: &mut Interned, text: &str) -> Arc<str> {
    if let Some(known) = seen.get(text) {
        return Arc::clone(known);
    }
    let new: Arc<str> = Arc::from(text);
    seen.insert(Arc::clone(&new));
    new
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub data: QueryData,
    pub warnings: Vec<String>,
    /// `data.stats.samples.totalQueryableSamples`: the samples the engine touched, when the
    /// query asked for `stats=all` and the engine says (Prometheus does; VictoriaMetrics not).
    pub samples_touched: Option<u64>,
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
    /// A 401 or 403 from the server or a proxy in front of it: `fix` names the config keys.
    Unauthorized {
        status: u16,
        /// The base URL, without credentials.
        url: String,
        fix: String,
    },
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
                    // vmauth: no `url_map` entry for the path.
                    400 if body_excerpt.contains("missing route") => {
                        " (check prometheus.url and its path prefix)"
                    }
                    _ => "",
                };
                write!(
                    f,
                    "Prometheus answered HTTP {status} {reason}{hint}: {body_excerpt}"
                )
            }
            PromError::Unsupported(what) => f.write_str(what),
            PromError::Unauthorized { status, url, fix } => {
                let reason = StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                write!(f, "{status} {reason} from {url}: {fix}")
            }
        }
    }
}

impl std::error::Error for PromError {}

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
    #[serde(default, deserialize_with = "labels_alone")]
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

struct SeriesSeed<'a> {
    len_hint: &'a mut usize,
    seen: &'a mut Interned,
}

/// A `{"name": "value", ...}` object, its texts shared through `Interned`.
struct LabelsSeed<'a>(&'a mut Interned);

/// One text, shared through `Interned`.
struct TextSeed<'a>(&'a mut Interned);

/// An instant answer's labels (few series: nothing to share across them).
fn labels_alone<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
    LabelsSeed(&mut Interned::new()).deserialize(d)
}

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
                let (mut len_hint, mut seen) = (0, Interned::new());
                while let Some((labels, samples, histograms)) =
                    seq.next_element_seed(SeriesSeed {
                        len_hint: &mut len_hint,
                        seen: &mut seen,
                    })?
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
                SeriesField::Metric => labels = map.next_value_seed(LabelsSeed(&mut *self.seen))?,
                SeriesField::Values => {
                    samples = map.next_value_seed(PairsSeed(&mut *self.len_hint))?;
                }
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

impl<'de> DeserializeSeed<'de> for LabelsSeed<'_> {
    type Value = Labels;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LabelsSeed<'_> {
    type Value = Labels;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of label names to values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
        let mut labels = Labels::new();
        while let Some(name) = map.next_key_seed(TextSeed(&mut *self.0))? {
            let value = map.next_value_seed(TextSeed(&mut *self.0))?;
            labels.insert(name, value);
        }
        Ok(labels)
    }
}

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = Arc<str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for TextSeed<'_> {
    type Value = Arc<str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    // Borrowed or not, `visit_str` sees the text without allocating.
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Arc<str>, E> {
        Ok(intern(self.0, text))
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
            samples_touched: None,
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

#[derive(Deserialize)]
struct StatsEnvelope {
    data: Option<StatsData>,
}

#[derive(Deserialize)]
struct StatsData {
    stats: Option<Stats>,
}

#[derive(Deserialize)]
struct Stats {
    samples: Option<SampleStats>,
}

#[derive(Deserialize)]
struct SampleStats {
    #[serde(rename = "totalQueryableSamples")]
    total_queryable_samples: Option<u64>,
}

/// `data.stats.samples.totalQueryableSamples` of a success answer to a query sent with
/// `stats=all`; `None` when the engine does not say. A second, skimming pass over the body:
/// only paid when stats are asked for.
pub fn samples_touched(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<StatsEnvelope>(body)
        .ok()?
        .data?
        .stats?
        .samples?
        .total_queryable_samples
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

/// The start of a body, on one line, for an error message: its words (control characters
/// dropped) in EXCERPT_CHARS characters, `…` marking a cut (also when only part of the body
/// was read).
fn excerpt(body: &[u8]) -> String {
    use crate::domain::format::{self, Keep};

    let read = body.len().min(EXCERPT_CHARS * 4);
    let text = String::from_utf8_lossy(&body[..read]);
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| word.chars().filter(|c| !c.is_control()).collect())
        .filter(|word: &String| !word.is_empty())
        .collect();
    let line = words.join(" ");
    if line.is_empty() {
        return "(empty body)".to_string();
    }
    let mut out = format::excerpt(&line, EXCERPT_CHARS + 1, Keep::Start);
    if read < body.len() && line.chars().count() <= EXCERPT_CHARS + 1 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // ---- Helpers ----

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("time")
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
        let Response { data, warnings, .. } = ok(body);
        assert!(warnings.is_empty());
        let QueryData::Vector(samples) = data else {
            panic!("not a vector: {data:?}")
        };
        assert_eq!(samples.len(), 2);
        assert_eq!(
            samples[0].0.get("job").map(|v| v.as_ref()),
            Some("checkout")
        );
        assert_eq!(samples[0].0.get("__name__").map(|v| v.as_ref()), Some("up"));
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
    fn a_matrixs_series_share_their_label_texts_and_keep_escapes() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"checkout","le":"0.5","path":"/a\"b\u00e9"},"values":[[1700000000,"1"]]},
            {"metric":{"job":"checkout","le":"+Inf"},"values":[[1700000000,"2"]]}]}}"#;
        let QueryData::Matrix(series) = ok(body).data else {
            panic!("not a matrix")
        };
        let (first, second) = (&series[0].0, &series[1].0);
        assert_eq!(first.get("path").map(|v| v.as_ref()), Some("/a\"b\u{e9}"));
        assert_eq!(second.get("le").map(|v| v.as_ref()), Some("+Inf"));
        let text = |labels: &Labels, name: &str| Arc::clone(labels.get(name).expect("label"));
        assert!(
            Arc::ptr_eq(&text(first, "job"), &text(second, "job")),
            "one copy of checkout for both series"
        );
        let name = |labels: &Labels| Arc::clone(labels.keys().next().expect("a name"));
        assert!(Arc::ptr_eq(&name(first), &name(second)), "one copy of job");
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
}
