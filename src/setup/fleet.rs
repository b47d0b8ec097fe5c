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
        group_by: config.fleet.group_by.clone(),
        recorded: config.fleet.recorded.as_ref().is_some_and(|r| *r.get_ref()),
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
        // The facts first: at 80 columns the fleet screen's event line keeps the start.
        intro.push(if service.is_empty() {
            format!("fleet: {unnamed} listed, metrics by pod hash alone (no [fleet] service)")
        } else {
            format!("fleet: {unnamed} listed, metrics by {service} and pod hash ([fleet] service)")
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{Identity, from_config};

    const BASE: &str = "[prometheus]\nurl = \"http://127.0.0.1:9\"\n[backend]\nkind = \"http\"\n\
        url = \"http://127.0.0.1:9\"\n[[metrics]]\nname = \"errors\"\n\
        query = 'sum(rate(http_errors_total{$selector}[$window]))'\n\
        [[slos]]\nname = \"availability\"\nobjective = 99.9\nwindow = \"30d\"\n\
        error_ratio = 'sum(rate(e{$service}[$window])) / sum(rate(t{$service}[$window]))'\n";

    fn build(extra: &str, listed: &[&str]) -> Result<crate::setup::Console, ConfigError> {
        let path = Path::new("/etc/rc.toml");
        let config = crate::config::parse(&format!("{BASE}{extra}"), path)?;
        let who = Identity {
            actor: "alice@bastion".into(),
            ssh_client: None,
        };
        let listed = listed.iter().map(|s| s.to_string()).collect();
        from_config(
            &config,
            path,
            None,
            listed,
            true,
            who,
            "/tmp/a.jsonl".into(),
        )
    }

    #[test]
    fn the_fleet_template_carries_group_by_and_recorded() {
        let grouped = "[fleet]\nservice = 'app=\"$rollout\"'\ngroup_by = \"app\"\n";
        for (extra, recorded) in [("", false), ("recorded = true\n", true)] {
            let console = build(&format!("{grouped}{extra}"), &["a", "b"]).expect("builds");
            let fleet = console.fleet.expect("two rollouts: a fleet");
            let selectors = fleet.template.selectors.as_ref().expect("[fleet]");
            assert_eq!(selectors.group_by.as_deref(), Some("app"));
            assert_eq!(selectors.recorded, recorded, "{extra:?}");
        }
    }

    #[test]
    fn named_and_listed_rollouts_make_a_fleet_each_with_its_own_selectors() {
        let named = "[[rollouts]]\nname = \"checkout\"\nservice = 'job=\"checkout\"'\n\
                     baseline = 'track=\"b\"'\ncanary = 'track=\"c\"'\n\
                     [fleet]\nservice = 'app=\"$rollout\"'\n";
        let console = build(named, &["checkout", "shop/payments"]).expect("builds");
        let fleet = console.fleet.expect("two rollouts: a fleet");
        let names: Vec<&str> = fleet.rollouts.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["checkout", "shop/payments"],
            "config first, then listed"
        );
        let checkout = fleet.rollouts[0].selectors.as_ref().expect("own selectors");
        assert_eq!(checkout.service, "job=\"checkout\"");
        assert_eq!(checkout.baseline, "track=\"b\"");
        assert!(fleet.rollouts[0].pod_hash_tracks.is_none());
        // A listed rollout: [fleet] service with its name (not its namespace), pod-hash tracks.
        let payments = fleet.rollouts[1].selectors.as_ref().expect("own selectors");
        assert_eq!(payments.service, "app=\"payments\"");
        assert_eq!(payments.rollout, "payments");
        let tracks = fleet.rollouts[1]
            .pod_hash_tracks
            .as_ref()
            .expect("hash tracks");
        assert_eq!(tracks.service, "app=\"payments\"");
        assert_eq!(tracks.label, "rollouts_pod_template_hash");
        // A rollout listed later is followed the same way.
        let later = fleet.template.instantiate("orders");
        assert_eq!(
            later.selectors.as_ref().map(|s| s.service.as_str()),
            Some("app=\"orders\"")
        );
    }

    #[test]
    fn the_fleets_intro_says_how_listed_rollouts_are_queried_within_80_columns() {
        let console = build(
            "[fleet]\nservice = 'app=\"$rollout\"'\n",
            &["checkout", "payments"],
        )
        .expect("builds");
        let line = console
            .intro
            .iter()
            .find(|l| l.starts_with("fleet: "))
            .expect("an intro line for the listed rollouts");
        // The fleet screen's event line at 80 columns keeps ~70 characters after its age.
        let kept: String = line.chars().take(70).collect();
        assert!(kept.contains("and pod hash"), "{line}");
        assert!(
            kept.contains("2 listed,") && kept.contains("app=\"$rollout\""),
            "{line}"
        );
    }

    #[test]
    fn one_rollout_is_no_fleet_and_none_is_an_error() {
        let fleet = "[fleet]\nservice = 'app=\"$rollout\"'\n";
        let console = build(fleet, &["checkout"]).expect("one listed rollout");
        assert!(console.fleet.is_none());
        assert_eq!(console.settings.rollout_name, "checkout");
        let selectors = console.query_selectors.expect("prometheus");
        assert_eq!(
            selectors.service, "app=\"checkout\"",
            "[fleet] serves one rollout too"
        );
        let err = build("", &["checkout"])
            .err()
            .expect("$service without a value")
            .to_string();
        assert!(err.contains("[fleet] service"), "{err}");
        let err = build("", &[]).err().expect("no rollout").to_string();
        assert!(err.contains("no rollout to show"), "{err}");
    }

    #[test]
    fn a_listed_rollout_without_a_service_for_service_queries_is_refused_naming_fleet() {
        let err = build("", &["checkout", "payments"])
            .err()
            .expect("$service has no value")
            .to_string();
        assert!(
            err.contains("[fleet] service")
                && err.contains("\"checkout\"")
                && err.contains("[[slos]] \"availability\""),
            "{err}"
        );
    }

    #[test]
    fn group_by_must_be_a_label_name() {
        let err = build("[fleet]\ngroup_by = \"rollout name\"\n", &[])
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("[fleet] group_by") && err.contains("rc.toml"),
            "{err}"
        );
        let err = build(
            "[fleet]\nservice = 'app=\"$rollout\"'\ngroup_by = \"rollout\"\n",
            &[],
        )
        .err()
        .expect("refused: the service does not name the rollout by rollout")
        .to_string();
        assert!(
            err.contains("[fleet] service")
                && err.contains("rollout=\"$rollout\"")
                && err.contains("rc.toml:"),
            "{err}"
        );
        let fleet =
            "[fleet]\nservice = 'rollout=\"$rollout\", env=\"prod\"'\ngroup_by = \"rollout\"\n";
        let console = build(fleet, &["a", "b"]).expect("builds");
        let start = console.fleet.expect("a fleet");
        assert!(
            start.rollouts.iter().all(|r| r.grouped),
            "listed rollouts are grouped"
        );
    }

    #[test]
    fn a_fleet_service_with_another_variable_names_its_place() {
        let err = build("[fleet]\nservice = 'app=\"$rollout\", $selector'\n", &[])
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("[fleet] service") && err.contains("$rollout"),
            "{err}"
        );
        assert!(err.contains("rc.toml"), "{err}");
    }
}
