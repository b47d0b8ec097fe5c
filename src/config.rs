//! The TOML config: its shape (a public contract: extend, don't break), where it is searched, and
//! errors that name the file, line and column. Layering: CLI > env > file > default.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::BackendSettings;
use crate::backend::argo::ArgoSettings;
use crate::backend::command::CommandSettings;
use crate::backend::http::HttpSettings;
use crate::domain::format::humantime_serde;
use crate::domain::{Gate, Unit};
use crate::metrics::client::{self, PrometheusSettings};

pub const ENV_CONFIG: &str = "ROLLOUT_CONSOLE_CONFIG";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub read_only: bool,
    #[serde(default = "default_poll", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Where the audit log goes; default: the data directory.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
    #[serde(default)]
    pub backend: Option<BackendConfig>,
    #[serde(default)]
    pub rollouts: Vec<RolloutConfig>,
    #[serde(default)]
    pub metrics: Vec<MetricConfig>,
    #[serde(default)]
    pub slos: Vec<SloConfig>,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
    /// `[judge]`: the sequential judge's false-alarm budget (`alpha`) and the Mann–Whitney
    /// judge's score thresholds (`marginal`, `pass`).
    #[serde(default)]
    pub judge: JudgeConfig,
}

/// `[judge]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeConfig {
    /// The chance, over the whole rollout, that the sequential judge ever fails a canary that
    /// behaves like its baseline; split evenly across the sequential metrics.
    pub alpha: f64,
    /// Mann–Whitney score: at or above, INCONCLUSIVE (below: FAIL).
    pub marginal: f64,
    /// Mann–Whitney score: at or above, PASS.
    pub pass: f64,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        let t = crate::domain::judge::ScoreThresholds::default();
        Self {
            alpha: DEFAULT_ALPHA,
            marginal: t.marginal,
            pass: t.pass,
        }
    }
}

pub use crate::domain::sequential::DEFAULT_ALPHA;

impl JudgeConfig {
    pub fn thresholds(&self) -> crate::domain::judge::ScoreThresholds {
        crate::domain::judge::ScoreThresholds {
            marginal: self.marginal,
            pass: self.pass,
        }
    }
}

/// A Slack-compatible webhook per action. The URL carries a token: prefer `webhook_url_file`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub webhook_url_file: Option<PathBuf>,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_poll() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    pub url: String,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The most queries per second the console sends (a token bucket with one second's burst):
    /// the open rollout's first, then the fleet rows needing attention, then the rest.
    #[serde(default = "default_max_queries_per_second")]
    pub max_queries_per_second: toml::Spanned<f64>,
    /// Ask Prometheus for `stats=all` and log the samples each poll touched (for the benchmark).
    #[serde(default)]
    pub query_stats: bool,
    /// How often the SLO windows (30d, 3d, 1d, 6h, …) are asked again: they move slowly, and
    /// each asks Prometheus for every sample of its window.
    #[serde(default = "default_slo_refresh", with = "humantime_serde")]
    pub slo_refresh: Duration,
}

/// `[prometheus] slo_refresh` when unset.
pub const DEFAULT_SLO_REFRESH: Duration = Duration::from_secs(60);

fn default_slo_refresh() -> Duration {
    DEFAULT_SLO_REFRESH
}

fn default_max_queries_per_second() -> toml::Spanned<f64> {
    toml::Spanned::new(0..0, crate::metrics::budget::DEFAULT_MAX_QUERIES_PER_SECOND)
}

/// The Prometheus client's settings.
impl From<&PrometheusConfig> for PrometheusSettings {
    fn from(c: &PrometheusConfig) -> Self {
        PrometheusSettings {
            url: c.url.clone(),
            timeout: c.timeout,
            bearer_token_file: c.bearer_token_file.clone(),
            basic_auth: c.basic_auth.as_ref().map(|b| client::BasicAuth {
                username: b.username.clone(),
                password_file: b.password_file.clone(),
            }),
            headers: c.headers.clone(),
            ca_file: c.ca_file.clone(),
            max_queries_per_second: *c.max_queries_per_second.get_ref(),
            query_stats: c.query_stats,
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(5)
}

/// `[backend]`: which backend (`kind`) and that backend's own settings. A new backend adds its
/// keys to the table below, a variant here, and its arm in `BackendConfig::settings` (its
/// `backend::BackendSettings` variant; `setup` builds whichever it is).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "BackendTable")]
pub enum BackendConfig {
    Http(HttpConfig),
    Command(CommandBackendConfig),
    Argo(ArgoConfig),
    Demo(DemoConfig),
}

/// `kind = "http"`: the deploy API at `url`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpConfig {
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// `kind = "command"`: the scripts of `[backend.command]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandBackendConfig {
    pub command: Option<CommandConfig>,
}

/// `kind = "argo"`: the kubeconfig context, the namespaces and the label selector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArgoConfig {
    /// Default: the kubeconfig's current context, like kubectl.
    pub context: Option<String>,
    /// One namespace (the older key): the same as `namespaces = ["x"]`.
    pub namespace: Option<String>,
    /// Default: every namespace the context may list, else the context's namespace.
    pub namespaces: Option<Vec<String>>,
    /// A Kubernetes label selector the listed Rollouts must match.
    pub selector: Option<String>,
    /// Not Argo keys: kept only to say that the kubeconfig gives the server and credentials.
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
}

/// `kind = "demo"`: the simulator's scenario, seed and speed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DemoConfig {
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub speed: Option<f64>,
}

/// The `[backend]` table as written: one table for every kind, so an unknown key's error lists
/// every key at its line and column (the contract of the config's error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum BackendKind {
    Http,
    Argo,
    Command,
    Demo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendTable {
    kind: BackendKind,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    scenario: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    command: Option<CommandConfig>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
    #[serde(default)]
    selector: Option<String>,
}

/// Keys of another kind are ignored, as they always were (argo's url / token_file excepted: see
/// `ArgoConfig::settings`).
impl From<BackendTable> for BackendConfig {
    fn from(t: BackendTable) -> Self {
        match t.kind {
            BackendKind::Http => Self::Http(HttpConfig {
                url: t.url,
                token_file: t.token_file,
            }),
            BackendKind::Command => Self::Command(CommandBackendConfig { command: t.command }),
            BackendKind::Argo => Self::Argo(ArgoConfig {
                context: t.context,
                namespace: t.namespace,
                namespaces: t.namespaces,
                selector: t.selector,
                url: t.url,
                token_file: t.token_file,
            }),
            BackendKind::Demo => Self::Demo(DemoConfig {
                scenario: t.scenario,
                seed: t.seed,
                speed: t.speed,
            }),
        }
    }
}

/// What `[backend]` asks for: a deploy backend's settings, or the simulator (`demo`, which is
/// the metrics source too, so `setup` builds the whole console from it).
#[derive(Debug, Clone)]
pub enum BackendChoice<'a> {
    Deploy(Box<BackendSettings>),
    Simulator(&'a DemoConfig),
}

impl BackendConfig {
    /// The chosen backend's settings (the words of the first mistake in its keys).
    pub fn settings(&self) -> Result<BackendChoice<'_>, String> {
        Ok(BackendChoice::Deploy(Box::new(match self {
            Self::Http(c) => BackendSettings::Http(c.settings()?),
            Self::Command(c) => BackendSettings::Command(c.settings()?),
            Self::Argo(c) => BackendSettings::Argo(c.settings()?),
            Self::Demo(c) => return Ok(BackendChoice::Simulator(c)),
        })))
    }
}

/// Every backend's calls give up after this long (the console's own timeout is longer).
const BACKEND_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpConfig {
    /// The deploy API client's settings; reads the token file (an empty one is refused).
    pub fn settings(&self) -> Result<HttpSettings, String> {
        let url = self
            .url
            .clone()
            .ok_or("[backend] kind = \"http\" needs url = \"http://host:port\"")?;
        let token = self
            .token_file
            .as_deref()
            .map(|f| client::read_secret(f, "[backend] token_file"))
            .transpose()?;
        Ok(HttpSettings {
            url,
            token,
            timeout: BACKEND_TIMEOUT,
        })
    }
}

impl CommandBackendConfig {
    /// The command backend's settings: `[backend.command]` with a status command.
    pub fn settings(&self) -> Result<CommandSettings, String> {
        let example = "status = [\"./deploy.sh\", \"status\", \"{name}\"] \
                       (and promote / pause / resume / rollback to act)";
        let command = self.command.as_ref().ok_or_else(|| {
            format!("[backend] kind = \"command\" needs a [backend.command] section with {example}")
        })?;
        if command.status.is_empty() {
            return Err(format!(
                "[backend.command] status is empty: give the command that prints the \
                 rollout's JSON, e.g. {example}"
            ));
        }
        Ok(command.into())
    }
}

impl ArgoConfig {
    /// The Argo client's settings. The server and credentials come from the kubeconfig, as for
    /// kubectl, so a url or token_file is a mistake worth naming.
    pub fn settings(&self) -> Result<ArgoSettings, String> {
        if self.url.is_some() || self.token_file.is_some() {
            return Err(
                "[backend] kind = \"argo\" takes the server and credentials from the \
                 kubeconfig: remove url / token_file (choose a context = \"...\" instead)"
                    .into(),
            );
        }
        let namespaces = match (&self.namespace, &self.namespaces) {
            (Some(_), Some(_)) => {
                return Err("[backend] namespace and namespaces are both set: keep one \
                            (namespaces = [\"a\", \"b\"] covers both)"
                    .into());
            }
            (Some(one), None) => vec![one.clone()],
            (None, Some(list)) if list.is_empty() => {
                return Err("[backend] namespaces is empty: leave it out to list every \
                            namespace the context may"
                    .into());
            }
            (None, Some(list)) => {
                if let Some(blank) = list
                    .iter()
                    .find(|ns| ns.trim().is_empty() || ns.contains('/'))
                {
                    return Err(format!(
                        "[backend] namespaces: {blank:?} is not a namespace"
                    ));
                }
                list.clone()
            }
            (None, None) => Vec::new(),
        };
        if let Some(selector) = &self.selector {
            crate::backend::argo::validate_selector(selector)
                .map_err(|why| format!("[backend] selector: {why}"))?;
        }
        Ok(ArgoSettings {
            kubeconfig: None,
            context: self.context.clone(),
            namespaces,
            selector: self.selector.clone(),
            timeout: Some(BACKEND_TIMEOUT),
        })
    }
}

/// `[backend.command]`: argv templates run without a shell (see assets/deploy-api.md).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Prints the rollout as the deploy API's `Rollout` JSON on stdout.
    pub status: Vec<String>,
    #[serde(default)]
    pub promote: Option<Vec<String>>,
    #[serde(default)]
    pub pause: Option<Vec<String>>,
    #[serde(default)]
    pub resume: Option<Vec<String>>,
    #[serde(default)]
    pub rollback: Option<Vec<String>>,
    /// Optional: skip the remaining steps (offered as `P` only when set).
    #[serde(default)]
    pub promote_full: Option<Vec<String>>,
    /// Optional: start an aborted rollout again (offered as `t` only when set).
    #[serde(default)]
    pub retry: Option<Vec<String>>,
    /// Optional: restore the previous revision (offered as `u` only when set).
    #[serde(default)]
    pub undo: Option<Vec<String>>,
    /// Per command run; the process is killed when it is over.
    #[serde(default = "default_command_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The phases, for status commands whose JSON has no `steps`.
    #[serde(default)]
    pub steps: Vec<crate::domain::Step>,
}

/// The command backend's settings.
impl From<&CommandConfig> for CommandSettings {
    fn from(c: &CommandConfig) -> Self {
        CommandSettings {
            status: c.status.clone(),
            promote: c.promote.clone(),
            pause: c.pause.clone(),
            resume: c.resume.clone(),
            rollback: c.rollback.clone(),
            promote_full: c.promote_full.clone(),
            retry: c.retry.clone(),
            undo: c.undo.clone(),
            timeout: c.timeout,
            steps: c.steps.clone(),
        }
    }
}

fn default_command_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    pub name: String,
    /// Label matchers of the baseline and canary pods. Leave both out to build them from the
    /// rollout's pod-template hashes (Argo), ANDed with `service`.
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub canary: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    /// The pod-template-hash label as Prometheus stores it (kubernetes_sd's labelmap turns
    /// `rollouts-pod-template-hash` into this).
    #[serde(default = "default_pod_hash_label")]
    pub pod_hash_label: String,
}

impl RolloutConfig {
    /// A rollout named on the command line only: every selector left to the defaults.
    pub fn unlisted(name: &str) -> Self {
        Self {
            name: name.to_string(),
            baseline: None,
            canary: None,
            service: None,
            pod_hash_label: default_pod_hash_label(),
        }
    }
}

fn default_pod_hash_label() -> String {
    "rollouts_pod_template_hash".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricConfig {
    pub name: String,
    /// Spanned so a template error can point at the query's line and column.
    pub query: toml::Spanned<String>,
    #[serde(default)]
    pub unit: Unit,
    #[serde(default, with = "humantime_serde::option")]
    pub window: Option<Duration>,
    #[serde(default)]
    pub gate: Gate,
    /// `judge = "sequential"` (a test on request counts: needs `histogram`, or `errors` and
    /// `total`) or `"mann-whitney"` (on the query's points); the keys below tune it.
    #[serde(default)]
    pub judge: Option<JudgeKind>,
    /// Latency: the histogram's raw `_bucket` series, e.g.
    /// `http_request_duration_seconds_bucket{$selector}` (no rate(), no $window).
    #[serde(default)]
    pub histogram: Option<toml::Spanned<String>>,
    /// Ratios: the raw counters of failed and of all requests.
    #[serde(default)]
    pub errors: Option<toml::Spanned<String>>,
    #[serde(default)]
    pub total: Option<toml::Spanned<String>>,
    /// Sequential: the first part of each step not counted while new pods warm up.
    #[serde(default, with = "humantime_serde::option")]
    pub warmup: Option<Duration>,
    /// Sequential: the share of the allowed change (log scale) a FAIL must also rule out.
    #[serde(default)]
    pub tolerance: Option<f64>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub direction: Option<crate::domain::judge::Direction>,
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    #[serde(default)]
    pub min_samples: Option<usize>,
    /// A HIGH/LOW from the judge on a critical metric fails the whole canary.
    #[serde(default)]
    pub critical: bool,
    /// The metric's weight in the judge's score.
    #[serde(default = "default_weight")]
    pub weight: f64,
}

fn default_weight() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum JudgeKind {
    #[serde(rename = "sequential")]
    Sequential,
    #[serde(rename = "mann-whitney")]
    MannWhitney,
}

impl MetricConfig {
    /// The raw counters behind this metric, when it names them.
    pub fn counters(&self) -> Option<crate::metrics::Counters> {
        match (&self.histogram, &self.errors, &self.total) {
            (Some(h), _, _) => Some(crate::metrics::Counters::Histogram(h.get_ref().clone())),
            (None, Some(errors), Some(total)) => Some(crate::metrics::Counters::Ratio {
                errors: errors.get_ref().clone(),
                total: total.get_ref().clone(),
            }),
            _ => None,
        }
    }

    /// The sequential judge's settings, when this metric has it.
    pub fn sequential_settings(&self) -> Option<crate::domain::sequential::SequentialSettings> {
        (self.judge? == JudgeKind::Sequential).then_some(())?;
        let d = crate::domain::sequential::SequentialSettings::default();
        Some(crate::domain::sequential::SequentialSettings {
            direction: self.direction.unwrap_or(d.direction),
            allowed_increase: self.allowed_increase.unwrap_or(d.allowed_increase),
            allowed_decrease: self.allowed_decrease.unwrap_or(d.allowed_decrease),
            min_samples: self.min_samples.map_or(d.min_samples, |n| n as u64),
            warmup: self.warmup.unwrap_or(d.warmup),
            tolerance: self.tolerance.unwrap_or(d.tolerance),
        })
    }

    /// The Mann–Whitney judge's settings, when this metric has it.
    pub fn judge_settings(&self) -> Option<crate::domain::judge::JudgeSettings> {
        (self.judge? == JudgeKind::MannWhitney).then_some(())?;
        let d = crate::domain::judge::JudgeSettings::default();
        Some(crate::domain::judge::JudgeSettings {
            confidence: self.confidence.unwrap_or(d.confidence),
            direction: self.direction.unwrap_or(d.direction),
            allowed_increase: self.allowed_increase.unwrap_or(d.allowed_increase),
            allowed_decrease: self.allowed_decrease.unwrap_or(d.allowed_decrease),
            min_samples: self.min_samples.unwrap_or(d.min_samples),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    pub name: String,
    pub objective: f64,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub error_ratio: toml::Spanned<String>,
    /// Recorded series to read instead of `error_ratio`: one template where `$window` is the
    /// window's label (Sloth: `slo:sli_error:ratio_rate$window{sloth_service="checkout",
    /// sloth_slo="availability"}`), or a table by window label (Pyrra:
    /// `{ "5m" = 'http_requests:burnrate5m{slo="checkout"}', … }`); a window missing from the
    /// table is computed from `error_ratio`.
    #[serde(default)]
    pub recorded: Option<toml::Spanned<RecordedConfig>>,
}

/// `recorded` of an `[[slos]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RecordedConfig {
    Template(String),
    ByWindow(BTreeMap<String, String>),
}

impl SloConfig {
    /// The labels of the windows this SLO is measured over: its own (`30d`) and the burn
    /// windows (`5m` … `3d`).
    pub fn window_labels(&self) -> Vec<String> {
        std::iter::once(crate::metrics::template::prom_duration(self.window))
            .chain(crate::domain::slo::BURN_WINDOWS.map(|(l, _)| l.to_string()))
            .collect()
    }

    /// The recorded series by window label (`SloDef::recorded`).
    pub fn recorded_by_window(&self) -> Vec<(String, String)> {
        match self.recorded.as_ref().map(|r| r.get_ref()) {
            None => Vec::new(),
            Some(RecordedConfig::Template(t)) => self
                .window_labels()
                .into_iter()
                .map(|l| (l, t.clone()))
                .collect(),
            Some(RecordedConfig::ByWindow(table)) => {
                table.iter().map(|(l, t)| (l.clone(), t.clone())).collect()
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default = "default_min_budget")]
    pub min_budget_to_promote: f64,
}

fn default_min_budget() -> f64 {
    10.0
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_budget_to_promote: default_min_budget(),
        }
    }
}

/// A config problem, already in words: where, what, and what would be valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Parse config text; `origin` names the file in errors. toml's message carries line and column.
pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| line_col(text, span.start))
            .map(|(l, c)| format!(":{l}:{c}"))
            .unwrap_or_default();
        let hint = e
            .span()
            .filter(|span| is_unquoted_duration(text, span.start, e.message()))
            .map(|_| "\ndurations are strings like \"5s\", \"1m30s\" or \"30d\" (in quotes)")
            .unwrap_or_default();
        ConfigError(format!(
            "config error in {}{location}\n{e}{hint}",
            origin.display()
        ))
    })?;
    validate(&config).map_err(|(e, span)| {
        let location = span
            .map(|s| line_col(text, s.start))
            .map(|(l, c)| format!(":{l}:{c}"))
            .unwrap_or_default();
        ConfigError(format!(
            "config error in {}{location}: {e}",
            origin.display()
        ))
    })?;
    Ok(config)
}

/// The keys whose values are durations (humantime strings).
const DURATION_KEYS: [&str; 6] = [
    "poll_interval",
    "timeout",
    "window",
    "warmup",
    "hold",
    "slo_refresh",
];

/// `poll_interval = 5`: a number where a duration string belongs. serde only says "expected a
/// string", so look at the key the value at `offset` belongs to.
fn is_unquoted_duration(text: &str, offset: usize, message: &str) -> bool {
    if !(message.contains("invalid type: integer") || message.contains("invalid type: float")) {
        return false;
    }
    let before = &text[..offset.min(text.len())];
    let key = before
        .trim_end()
        .strip_suffix('=')
        .unwrap_or("")
        .rsplit(['\n', '{', ','])
        .next()
        .unwrap_or("")
        .trim();
    DURATION_KEYS.contains(&key)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

type Invalid = (String, Option<std::ops::Range<usize>>);

fn validate(c: &Config) -> Result<(), Invalid> {
    if c.poll_interval.is_zero() {
        return Err((
            "poll_interval must be more than 0 (e.g. \"5s\")".into(),
            None,
        ));
    }
    for m in &c.metrics {
        if m.name.trim().is_empty() {
            return Err((
                "a [[metrics]] entry has an empty name".into(),
                Some(m.query.span()),
            ));
        }
        validate_judge(m)?;
        crate::metrics::template::check(m.query.get_ref()).map_err(|e| {
            (
                format!("[[metrics]] {:?}: query: {e}", m.name),
                Some(m.query.span()),
            )
        })?;
    }
    if !(c.judge.alpha > 0.0 && c.judge.alpha <= 0.5) {
        return Err((
            format!(
                "[judge] alpha must be a probability above 0 and at most 0.5 (e.g. 0.01), got {}",
                c.judge.alpha
            ),
            None,
        ));
    }
    if let Some(p) = &c.prometheus {
        let rate = *p.max_queries_per_second.get_ref();
        if !(rate.is_finite() && rate > 0.0) {
            return Err((
                format!(
                    "[prometheus] max_queries_per_second must be more than 0 (e.g. {}), got {rate}",
                    crate::metrics::budget::DEFAULT_MAX_QUERIES_PER_SECOND
                ),
                Some(p.max_queries_per_second.span()),
            ));
        }
    }
    for s in &c.slos {
        if !(0.0..100.0).contains(&s.objective) || s.objective <= 0.0 {
            let why = format!(
                "[[slos]] {:?}: objective {} must be a percent between 0 and 100 (e.g. 99.95)",
                s.name, s.objective
            );
            return Err((why, Some(s.error_ratio.span())));
        }
        crate::metrics::template::check(s.error_ratio.get_ref()).map_err(|e| {
            (
                format!("[[slos]] {:?}: error_ratio: {e}", s.name),
                Some(s.error_ratio.span()),
            )
        })?;
        validate_recorded(s)?;
    }
    Ok(())
}

/// An SLO's recorded series: templates that render, a single one with `$window` in it, a
/// table by the SLO's window labels.
fn validate_recorded(s: &SloConfig) -> Result<(), Invalid> {
    let Some(recorded) = &s.recorded else {
        return Ok(());
    };
    let fail = |why: String| {
        Err((
            format!("[[slos]] {:?}: recorded: {why}", s.name),
            Some(recorded.span()),
        ))
    };
    let labels = s.window_labels();
    let own = crate::metrics::template::prom_label(s.window);
    match recorded.get_ref() {
        RecordedConfig::Template(t) => {
            if let Err(e) = crate::metrics::template::check(t) {
                return fail(e);
            }
            if !(t.contains("$window") || t.contains("${window}")) {
                return fail(
                    "one template needs $window where the window's label goes (e.g. \
                     slo:sli_error:ratio_rate$window{sloth_slo=\"availability\"}); for names \
                     without one pattern give a table: recorded = { \"5m\" = \"…\", … }"
                        .into(),
                );
            }
        }
        RecordedConfig::ByWindow(table) => {
            for (label, t) in table {
                if !labels.contains(label) && *label != own {
                    return fail(format!(
                        "no window {label:?}; the windows are {}",
                        labels.join(", ")
                    ));
                }
                if let Err(e) = crate::metrics::template::check(t) {
                    return fail(format!("{label}: {e}"));
                }
            }
        }
    }
    Ok(())
}

/// A metric's judge and counters: the keys that go together, and the templates they hold.
fn validate_judge(m: &MetricConfig) -> Result<(), Invalid> {
    let fail = |why: String, span: std::ops::Range<usize>| -> Result<(), Invalid> {
        Err((format!("[[metrics]] {:?}: {why}", m.name), Some(span)))
    };
    let counters = [
        ("histogram", &m.histogram),
        ("errors", &m.errors),
        ("total", &m.total),
    ];
    for (key, template) in counters {
        let Some(template) = template else { continue };
        if template.get_ref().contains("$window") || template.get_ref().contains("${window}") {
            return fail(
                format!(
                    "{key}: counters are read raw and counted exactly, so no $window and no \
                     rate(): give the series itself, e.g. http_requests_total{{$selector}}"
                ),
                template.span(),
            );
        }
        if let Err(e) = crate::metrics::template::check(template.get_ref()) {
            return fail(format!("{key}: {e}"), template.span());
        }
    }
    match (&m.histogram, &m.errors, &m.total) {
        (Some(h), Some(_), _) | (Some(h), _, Some(_)) => {
            return fail(
                "give either histogram (latency) or errors and total (a ratio), not both".into(),
                h.span(),
            );
        }
        (None, Some(e), None) => {
            return fail(
                "errors needs total too (all requests, e.g. http_requests_total{$selector})".into(),
                e.span(),
            );
        }
        (None, None, Some(t)) => {
            return fail(
                "total needs errors too (failed requests, e.g.                  http_requests_total{$selector, code=~\"5..\"})"
                    .into(),
                t.span(),
            );
        }
        _ => {}
    }
    if m.gate.min_requests.is_some() && m.counters().is_none() {
        return fail(
            "gate min_requests needs the requests counted: add total (with errors) or histogram"
                .into(),
            m.query.span(),
        );
    }
    match m.judge {
        Some(JudgeKind::Sequential) => {
            if m.counters().is_none() {
                return fail(
                    "judge = \"sequential\" counts requests: add histogram = \
                     'http_request_duration_seconds_bucket{$selector}' for a latency, or errors \
                     and total for a ratio"
                        .into(),
                    m.query.span(),
                );
            }
            if m.confidence.is_some() {
                return fail(
                    "confidence is a Mann–Whitney key; the sequential judge's level is [judge] \
                     alpha"
                        .into(),
                    m.query.span(),
                );
            }
            if let Some(settings) = m.sequential_settings()
                && let Err(e) = settings.validate()
            {
                return fail(format!("judge: {e}"), m.query.span());
            }
        }
        Some(JudgeKind::MannWhitney) => {
            if m.warmup.is_some() || m.tolerance.is_some() {
                return fail(
                    "warmup and tolerance are keys of judge = \"sequential\"".into(),
                    m.query.span(),
                );
            }
            if let Some(settings) = m.judge_settings()
                && let Err(e) = settings.validate()
            {
                return fail(format!("judge: {e}"), m.query.span());
            }
        }
        None => {
            if m.confidence.is_some()
                || m.direction.is_some()
                || m.allowed_increase.is_some()
                || m.allowed_decrease.is_some()
                || m.min_samples.is_some()
                || m.warmup.is_some()
                || m.tolerance.is_some()
                || m.critical
            {
                return fail(
                    "judge keys without a judge: add judge = \"sequential\" (or \
                     \"mann-whitney\")"
                        .into(),
                    m.query.span(),
                );
            }
        }
    }
    Ok(())
}

/// Where the config was found, in search order: `--config`, `$ROLLOUT_CONSOLE_CONFIG`, then the
/// config directory. `None` when there is none.
pub fn locate(cli: Option<&Path>, env: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = cli.or(env) {
        if !p.exists() {
            let from = if cli.is_some() {
                "--config"
            } else {
                ENV_CONFIG
            };
            return Err(ConfigError(format!(
                "config file {} (from {from}) does not exist",
                p.display()
            )));
        }
        return Ok(Some(p.to_path_buf()));
    }
    Ok(default_path().filter(|p| p.exists()))
}

pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rollout-console")
        .map(|d| d.config_dir().join("config.toml"))
}

/// `path:line:col` of a span of the config file at `path` (just `path` if it cannot be read).
pub fn located(path: &Path, span: std::ops::Range<usize>) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let (line, col) = line_col(&text, span.start);
            format!("{}:{line}:{col}", path.display())
        }
        Err(_) => path.display().to_string(),
    }
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let c = load(&path).expect("config.example.toml must parse");
        assert_eq!(c.poll_interval, Duration::from_secs(5));
        assert_eq!(c.metrics.len(), 4);
        assert_eq!(c.metrics[0].gate.max, Some(2.5));
        let p95 = c.metrics[0]
            .sequential_settings()
            .expect("p95 is judged sequentially");
        assert_eq!(p95.allowed_increase, 1.1);
        assert!(matches!(
            c.metrics[2].counters(),
            Some(crate::metrics::Counters::Ratio { .. })
        ));
        assert_eq!(c.judge.alpha, 0.01);
        assert_eq!(c.slos[0].objective, 99.95);
        assert_eq!(c.policy.min_budget_to_promote, 10.0);
    }

    #[test]
    fn the_example_config_judges_as_the_demo_does() {
        // One story: the README walks from the demo to this file, so their rules must agree.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let c = load(&path).expect("config.example.toml must parse");
        let demo = crate::sim::demo::metrics();
        assert_eq!(c.metrics.len(), demo.len());
        for (m, panel) in c.metrics.iter().zip(&demo) {
            assert_eq!(m.name, panel.def.name);
            assert_eq!(m.gate, panel.def.gate, "{}: gate", m.name);
            assert_eq!(m.critical, panel.critical, "{}: critical", m.name);
            assert_eq!(
                m.sequential_settings().map(|s| s.allowed_increase),
                panel.sequential.as_ref().map(|s| s.allowed_increase),
                "{}: sequential judge",
                m.name
            );
        }
    }

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let text = "read_only = false\n[prometheus]\nurl = \"http://x\"\ntimeoutt = \"5s\"\n";
        let err = parse(text, Path::new("/etc/rc.toml")).unwrap_err().0;
        assert!(err.starts_with("config error in /etc/rc.toml:4:1"), "{err}");
        assert!(err.contains("unknown field `timeoutt`"), "{err}");
        assert!(err.contains("expected one of"), "{err}");
    }

    #[test]
    fn max_queries_per_second_defaults_and_must_be_positive() {
        let c = parse("[prometheus]\nurl = \"http://x\"\n", Path::new("c.toml")).expect("ok");
        let p = c.prometheus.expect("prometheus");
        assert_eq!(
            *p.max_queries_per_second.get_ref(),
            crate::metrics::budget::DEFAULT_MAX_QUERIES_PER_SECOND
        );
        assert!(!p.query_stats);
        let settings = PrometheusSettings::from(&p);
        assert_eq!(settings.max_queries_per_second, 20.0);

        let text =
            "[prometheus]\nurl = \"http://x\"\nmax_queries_per_second = 2\nquery_stats = true\n";
        let p = parse(text, Path::new("c.toml"))
            .expect("ok")
            .prometheus
            .expect("p");
        assert_eq!(PrometheusSettings::from(&p).max_queries_per_second, 2.0);
        assert!(PrometheusSettings::from(&p).query_stats);

        for bad in ["0", "-1", "0.0"] {
            let text =
                format!("[prometheus]\nurl = \"http://x\"\nmax_queries_per_second = {bad}\n");
            let err = parse(&text, Path::new("c.toml")).unwrap_err().0;
            assert!(
                err.starts_with("config error in c.toml:3:26: [prometheus] max_queries_per_second must be more than 0"),
                "{err}"
            );
        }
    }

    #[test]
    fn slos_take_recorded_series_as_one_template_or_a_table() {
        let head = "[[slos]]\nname = \"availability\"\nobjective = 99.9\nwindow = \"30d\"\nerror_ratio = 'x[$window]'\n";
        let sloth = format!(
            "{head}recorded = 'slo:sli_error:ratio_rate$window{{sloth_service=\"checkout\", sloth_slo=\"availability\"}}'\n"
        );
        let c = parse(&sloth, Path::new("c.toml")).expect("sloth");
        let by_window = c.slos[0].recorded_by_window();
        let labels: Vec<&str> = by_window.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["30d", "5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
        assert!(
            by_window
                .iter()
                .all(|(_, t)| t.starts_with("slo:sli_error:ratio_rate$window{"))
        );

        let pyrra = format!(
            "{head}recorded = {{ \"5m\" = 'http_requests:burnrate5m{{slo=\"availability\"}}', \"1h\" = 'http_requests:burnrate1h{{slo=\"availability\"}}' }}\n"
        );
        let c = parse(&pyrra, Path::new("c.toml")).expect("pyrra");
        assert_eq!(
            c.slos[0].recorded_by_window(),
            [
                (
                    "1h".to_string(),
                    r#"http_requests:burnrate1h{slo="availability"}"#.to_string()
                ),
                (
                    "5m".to_string(),
                    r#"http_requests:burnrate5m{slo="availability"}"#.to_string()
                ),
            ]
        );
        let none = parse(head, Path::new("c.toml")).expect("none");
        assert!(none.slos[0].recorded_by_window().is_empty());

        let no_window = format!("{head}recorded = 'slo:sli_error:ratio_rate5m'\n");
        let err = parse(&no_window, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.starts_with("config error in c.toml:6:12: [[slos]] \"availability\": recorded: one template needs $window"),
            "{err}"
        );
        let bad_label = format!("{head}recorded = {{ \"4d\" = 'x' }}\n");
        let err = parse(&bad_label, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.contains("c.toml:6:12")
                && err.contains("no window \"4d\"; the windows are 30d, 5m, 30m"),
            "{err}"
        );
        let typo = format!("{head}recorded = 'x$windw'\n");
        let err = parse(&typo, Path::new("c.toml")).unwrap_err().0;
        assert!(err.contains("unknown template variable $windw"), "{err}");
    }

    #[test]
    fn bad_durations_say_what_is_valid() {
        let err = parse("poll_interval = \"soon\"\n", Path::new("c.toml"))
            .unwrap_err()
            .0;
        assert!(
            err.contains("c.toml:1:17") && err.contains("expected a duration"),
            "{err}"
        );
    }

    #[test]
    fn a_number_for_a_duration_says_durations_are_strings() {
        let err = parse("poll_interval = 5\n", Path::new("c.toml"))
            .unwrap_err()
            .0;
        assert!(
            err.starts_with("config error in c.toml:1:17")
                && err.contains("durations are strings like \"5s\""),
            "{err}"
        );
        let text = "[[metrics]]\nname = \"p95\"\nquery = 'q{$selector}'\nwindow = 60\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.contains("c.toml:4:10") && err.contains("durations are strings"),
            "{err}"
        );
        // Not every number is a misplaced duration.
        let err = parse(
            "[policy]\nmin_budget_to_promote = \"10\"\n",
            Path::new("c.toml"),
        )
        .unwrap_err()
        .0;
        assert!(!err.contains("durations are strings"), "{err}");
    }

    #[test]
    fn an_unknown_template_variable_names_the_metric_and_its_place() {
        let text = "[[metrics]]\nname = \"p95\"\nquery = 'rate(x{$selectr}[$window])'\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err().0;
        assert!(
            err.starts_with("config error in c.toml:3:9: [[metrics]] \"p95\": query:"),
            "{err}"
        );
        assert!(
            err.contains("$selectr") && err.contains("$selector"),
            "{err}"
        );
    }

    #[test]
    fn sequential_keys_are_checked_with_their_location() {
        let base = "[[metrics]]\nname = \"p95\"\nquery = 'q{$selector}'\n";
        let err = |extra: &str| {
            parse(&format!("{base}{extra}"), Path::new("c.toml"))
                .unwrap_err()
                .0
        };
        let e = err("judge = \"sequential\"\n");
        assert!(
            e.starts_with("config error in c.toml:3:9: [[metrics]] \"p95\": judge = \"sequential\" counts requests"),
            "{e}"
        );
        let e = err("judge = \"sequential\"\nhistogram = 'rate(h_bucket{$selector}[$window])'\n");
        assert!(
            e.contains("c.toml:5:13") && e.contains("no $window and no rate()"),
            "{e}"
        );
        let e = err("errors = 'e{$selector}'\n");
        assert!(e.contains("errors needs total too"), "{e}");
        let e = err("gate = { max = 0.01, min_requests = 20 }\n");
        assert!(e.contains("min_requests needs the requests counted"), "{e}");
        let e = err("warmup = \"30s\"\n");
        assert!(e.contains("add judge = \"sequential\""), "{e}");
        let e = err("judge = \"sequential\"\nhistogram = 'h{$selector}'\nallowed_increase = 1.0\n");
        assert!(
            e.contains("allowed_increase must be a factor above 1"),
            "{e}"
        );
        let e = parse("[judge]\nalpha = 0.9\n", Path::new("c.toml"))
            .unwrap_err()
            .0;
        assert!(e.contains("[judge] alpha must be a probability"), "{e}");
        let ok = format!(
            "{base}judge = \"sequential\"\nhistogram = 'h{{$selector}}'\nwarmup = \"30s\"\n"
        );
        let c = parse(&ok, Path::new("c.toml")).expect("valid");
        assert_eq!(
            c.metrics[0].sequential_settings().map(|s| s.warmup),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn argo_namespaces_and_selector_map_to_its_settings() {
        let at = Path::new("c.toml");
        let settings = |extra: &str| {
            let text = format!("[backend]\nkind = \"argo\"\n{extra}");
            let Some(BackendConfig::Argo(c)) = parse(&text, at).expect("parses").backend else {
                panic!("kind = \"argo\"");
            };
            c.settings()
        };
        let s = settings("namespaces = [\"a\", \"b\"]\nselector = \"team=payments,tier!=batch\"\n")
            .expect("valid");
        assert_eq!(s.namespaces, ["a", "b"]);
        assert_eq!(s.selector.as_deref(), Some("team=payments,tier!=batch"));
        assert_eq!(
            settings("").expect("valid").namespaces,
            Vec::<String>::new()
        );
        assert_eq!(
            settings("namespace = \"x\"\n").expect("valid").namespaces,
            ["x"]
        );

        let err = settings("namespace = \"x\"\nnamespaces = [\"a\"]\n").expect_err("both");
        assert!(err.contains("namespace and namespaces"), "{err}");
        let err = settings("namespaces = []\n").expect_err("empty");
        assert!(err.contains("namespaces is empty"), "{err}");
        let err = settings("selector = \"team=payments,\"\n").expect_err("stray comma");
        assert!(err.starts_with("[backend] selector: "), "{err}");
        assert!(err.contains("stray comma"), "{err}");
        let err = settings("selector = \"team in (a, b\"\n").expect_err("unbalanced");
        assert!(err.contains("unbalanced parentheses"), "{err}");
    }

    #[test]
    fn backend_is_one_variant_per_kind_mapped_to_its_adapters_settings() {
        let at = Path::new("c.toml");
        let argo = "[backend]\nkind = \"argo\"\ncontext = \"prod\"\nnamespace = \"shop\"\n";
        let Some(BackendConfig::Argo(c)) = parse(argo, at).expect("argo").backend else {
            panic!("kind = \"argo\"");
        };
        let s = c.settings().expect("settings");
        assert_eq!(
            (s.context.as_deref(), s.namespaces.as_slice(), s.timeout),
            (
                Some("prod"),
                ["shop".to_string()].as_slice(),
                Some(BACKEND_TIMEOUT)
            )
        );
        let with_url = format!("{argo}url = \"http://x\"\n");
        let Some(BackendConfig::Argo(c)) = parse(&with_url, at).expect("parses").backend else {
            panic!("kind = \"argo\"");
        };
        let err = c.settings().expect_err("argo has no url");
        assert!(err.contains("from the kubeconfig"), "{err}");

        let demo = "[backend]\nkind = \"demo\"\nseed = 7\nspeed = 2.5\n";
        let backend = parse(demo, at).expect("demo").backend;
        assert_eq!(
            backend,
            Some(BackendConfig::Demo(DemoConfig {
                scenario: None,
                seed: Some(7),
                speed: Some(2.5),
            }))
        );

        let http = "[backend]\nkind = \"http\"\n";
        let Some(BackendConfig::Http(c)) = parse(http, at).expect("http").backend else {
            panic!("kind = \"http\"");
        };
        let err = c.settings().expect_err("no url");
        assert!(err.contains("kind = \"http\" needs url"), "{err}");
        let c = HttpConfig {
            url: Some("http://deploy:8080".into()),
            token_file: None,
        };
        assert_eq!(c.settings().expect("settings").url, "http://deploy:8080");

        let command = "[backend]\nkind = \"command\"\n";
        let Some(BackendConfig::Command(c)) = parse(command, at).expect("command").backend else {
            panic!("kind = \"command\"");
        };
        let err = c.settings().expect_err("no [backend.command]");
        assert!(err.contains("needs a [backend.command] section"), "{err}");
    }

    #[test]
    fn a_missing_explicit_config_is_an_error_not_a_fallback() {
        let err = locate(Some(Path::new("/nonexistent/rc.toml")), None)
            .unwrap_err()
            .0;
        assert!(
            err.contains("/nonexistent/rc.toml (from --config) does not exist"),
            "{err}"
        );
    }
}
