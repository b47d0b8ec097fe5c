//! The TOML config: its shape (a public contract: extend, don't break), where it is searched, and
//! errors that name the file, line and column. Layering: CLI > env > file > default.
//!
//! One job here: `Config` and its top-level keys, `parse`, `load`, `locate` and the errors'
//! file:line:col. The sections live in backend.rs, prometheus.rs and rollouts.rs; the checks
//! serde cannot make in validate.rs; `preset = "…"` is expanded into entries by presets/.

mod backend;
pub mod presets;
mod prometheus;
mod rollouts;
mod validate;

pub use backend::{
    ArgoConfig, BackendChoice, BackendConfig, CommandBackendConfig, CommandConfig, DemoConfig,
    HttpConfig,
};
pub use prometheus::{BasicAuth, DEFAULT_SLO_REFRESH, PrometheusConfig};
pub use rollouts::{
    DEFAULT_ALPHA, FleetConfig, JudgeConfig, JudgeKind, MetricConfig, NotifyConfig, PolicyConfig,
    RecordedConfig, RolloutConfig, SloConfig,
};

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::domain::format::humantime_serde;
use validate::{is_unquoted_duration, validate};

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
    /// `[fleet]`: the selectors of rollouts the config does not name.
    #[serde(default)]
    pub fleet: FleetConfig,
}

fn default_poll() -> Duration {
    Duration::from_secs(5)
}

/// `[prometheus] timeout` and `[notify] timeout` when unset.
fn default_timeout() -> Duration {
    Duration::from_secs(5)
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
    let mut config: Config = toml::from_str(text).map_err(|e| {
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
    presets::expand(&mut config)
        .and_then(|()| validate(&config))
        .map_err(|(e, span)| {
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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
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
    fn recorded_fleet_queries_need_a_grouped_fleet() {
        let text = "[fleet]\nservice = 'rollout=\"$rollout\"'\nrecorded = true\n";
        let err = parse(text, Path::new("c.toml")).unwrap_err().0;
        assert!(err.contains("c.toml:3:12"), "{err}");
        assert!(err.contains("set group_by"), "{err}");
        assert!(
            parse(
                &format!("{text}group_by = \"rollout\"\n"),
                Path::new("c.toml")
            )
            .is_ok()
        );
        let off = "[fleet]\nrecorded = false\n";
        assert!(parse(off, Path::new("c.toml")).is_ok());
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
