//! The fleet at start: which rollouts the console follows when none is named on the command
//! line (the config's `[[rollouts]]` and every rollout the backend lists), each with its own
//! selectors, and how a rollout listed later is followed (`RolloutTemplate`).

use std::path::Path;
use std::time::Duration;

use super::{Backend, backend, config_error, metric_panels, selectors, slo_panels};
use crate::app::model::{FleetSelectors, RolloutModel, RolloutTemplate};
use crate::config::{Config, ConfigError};

/// How long the backend may take to list its rollouts at start.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);

/// The rollouts of a console that follows several, and how it follows one listed later.
pub struct FleetStart {
    pub rollouts: Vec<RolloutModel>,
    pub template: RolloutTemplate,
}

/// The rollouts the config's backend lists (read-only: listing is all this does). A backend
/// that cannot list (no `list` for a command backend) or does not answer lists none: the
/// console then follows the config's `[[rollouts]]`, and the error is in the log.
pub async fn listed_rollouts(config: &Config) -> Vec<String> {
    let Some(backend_config) = &config.backend else {
        return vec![];
    };
    let Ok(Backend::Deploy(handle)) = backend(backend_config, true) else {
        return vec![];
    };
    match tokio::time::timeout(LIST_TIMEOUT, handle.reader().list()).await {
        Ok(Ok(names)) => names,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the backend did not list its rollouts");
            vec![]
        }
        Err(_) => {
            tracing::warn!("the backend did not list its rollouts within 10s");
            vec![]
        }
    }
}

/// The config's `[[rollouts]]` first, then those the backend lists that it does not name.
pub fn fleet_names(config: &Config, listed: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = config.rollouts.iter().map(|r| r.name.clone()).collect();
    for name in listed {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The selectors of a rollout the config does not name: `[fleet]`'s.
pub fn fleet_selectors(config: &Config) -> FleetSelectors {
    FleetSelectors {
        service: config
            .fleet
            .service
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_default(),
        pod_hash_label: config.fleet.pod_hash_label.clone(),
    }
}

/// A console of several rollouts from a config: a named one gets its `[[rollouts]]` selectors,
/// a listed one `[fleet]`'s (refused when a query needs `$service` and `[fleet]` gives none).
pub fn configured_fleet(
    config: &Config,
    path: &Path,
    names: &[String],
    intro: &mut Vec<String>,
) -> Result<FleetStart, ConfigError> {
    let template = RolloutTemplate {
        panels: metric_panels(config),
        slos: slo_panels(config),
        selectors: Some(fleet_selectors(config)),
    };
    let mut rollouts = Vec::with_capacity(names.len());
    let mut unnamed = 0;
    for name in names {
        if config.rollouts.iter().any(|r| &r.name == name) {
            let mut lines = Vec::new();
            let (sel, tracks) =
                selectors(config, name, &mut lines).map_err(|e| config_error(path, e))?;
            let mut r =
                RolloutModel::new(name.clone(), template.panels.clone(), template.slos.clone());
            r.selectors = Some(sel);
            r.pod_hash_tracks = tracks;
            rollouts.push(r);
        } else {
            if config.fleet.service.is_none()
                && let Some(user) = super::service_user(config)
            {
                return Err(config_error(
                    path,
                    format!(
                        "the backend lists rollout {name:?}, which has no [[rollouts]] entry, and {user} \
                         uses $service: add [fleet] service = '<label matchers with $rollout>' \
                         (e.g. 'app=\"$rollout\"'), or a [[rollouts]] entry for it"
                    ),
                ));
            }
            unnamed += 1;
            rollouts.push(template.instantiate(name));
        }
    }
    if unnamed > 0 {
        let service = &fleet_selectors(config).service;
        intro.push(format!(
            "fleet: {unnamed} listed rollout(s) queried with [fleet] service {} and their pod-template hashes",
            if service.is_empty() { "(none)" } else { service }
        ));
    }
    Ok(FleetStart { rollouts, template })
}

/// `demo --fleet N`: the simulator's members, followed with the demo's panels.
pub fn demo_fleet(names: impl Iterator<Item = String>) -> FleetStart {
    let template = RolloutTemplate {
        panels: super::demo_panels::metric_panels(),
        slos: super::demo_panels::slo_panels(),
        selectors: None,
    };
    FleetStart {
        rollouts: names.map(|n| template.instantiate(&n)).collect(),
        template,
    }
}
