//! `[prometheus]`: where the metrics are and how to reach them, mapped to the Prometheus
//! client's own settings.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::format::humantime_serde;
use crate::metrics::client::{self, PrometheusSettings};

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
    #[serde(default = "super::default_timeout", with = "humantime_serde")]
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
impl PrometheusConfig {
    /// `[prometheus] url = …` and every other key at its default, as a config with only the url
    /// would read (for tests and benches that set a key or two on top).
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: super::default_timeout(),
            bearer_token_file: None,
            basic_auth: None,
            headers: BTreeMap::new(),
            ca_file: None,
            max_queries_per_second: default_max_queries_per_second(),
            query_stats: false,
            slo_refresh: default_slo_refresh(),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::Path;

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
}
