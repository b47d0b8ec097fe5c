//! `rollout-console rules`: the recording rules of a grouped fleet (`metrics::rules`), from a
//! config, as a Prometheus rules file.

use std::path::Path;
use std::time::Duration;

use super::config_error;
use crate::config::{Config, ConfigError};
use crate::metrics::rules::{self, Fleet, RulesPlan};
use crate::metrics::source::DEFAULT_WINDOW;

/// The rules file for `config` (read from `path`); the metrics' rules evaluated every
/// `interval` (default: the config's `poll_interval`). A config without a grouped fleet is an
/// error that says what to add.
pub fn rules_file(
    config: &Config,
    path: &Path,
    interval: Option<Duration>,
) -> Result<String, ConfigError> {
    let (Some(label), Some(service)) = (&config.fleet.group_by, &config.fleet.service) else {
        return Err(config_error(
            path,
            "recording rules are written for a grouped fleet: set group_by (the label holding \
             the rollout's name in every series, e.g. group_by = \"rollout\") and service \
             (e.g. service = 'rollout=\"$rollout\"') in [fleet]",
        ));
    };
    let fleet = Fleet {
        label,
        hash_label: &config.fleet.pod_hash_label,
        service: service.get_ref(),
    };
    let metrics = config
        .metrics
        .iter()
        .map(|m| {
            let window = m.window.unwrap_or(DEFAULT_WINDOW);
            let rule = rules::metric_rule(fleet, &m.name, m.query.get_ref(), window);
            (m.name.clone(), rule)
        })
        .collect();
    let slos = config
        .slos
        .iter()
        .map(|s| {
            let rules = if s.recorded.is_some() {
                Err("it names its own recorded series (`recorded`), which the console reads".into())
            } else {
                rules::slo_rules(fleet, &s.name, s.error_ratio.get_ref(), s.window)
            };
            (s.name.clone(), rules)
        })
        .collect();
    let plan = RulesPlan {
        source: path.display().to_string(),
        interval: interval.unwrap_or(config.poll_interval),
        // Half the SLO refresh, so that each refresh reads a ratio at most that old.
        slo_interval: (config
            .prometheus
            .as_ref()
            .map_or(Duration::from_secs(60), |p| p.slo_refresh)
            / 2)
        .max(interval.unwrap_or(config.poll_interval)),
        metrics,
        slos,
    };
    Ok(rules::rules_yaml(&plan))
}
