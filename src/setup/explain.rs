//! `rollout-console explain`: every query of a config rendered for one rollout's tracks (named
//! in `[[rollouts]]`, or from the pod-template hashes the backend reports, with `[fleet]
//! service`), run once against Prometheus, and why each one that answers with nothing does.
//! [`explain`] returns the structured report (`app::explain_report` renders it).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Identity, config_error, from_config};
use crate::app::explain_report::{ExplainReport, Explained, Section};
use crate::config::{BackendConfig, Config, ConfigError};
use crate::domain::slo::BURN_WINDOWS;
use crate::metrics::client::PrometheusClient;
use crate::metrics::diagnose::{Diagnoser, QueryAnswer};
use crate::metrics::source::{DEFAULT_WINDOW, Selectors};
use crate::metrics::template::{self, Vars};

/// One query to run: its section, label, and the PromQL (or why it could not be rendered).
struct Planned {
    section: usize,
    label: String,
    promql: Result<String, String>,
    one_series: bool,
}

fn vars<'a>(sel: &'a Selectors, selector: &'a str, window: Option<Duration>) -> Vars<'a> {
    let set = |s: &'a str| Some(s).filter(|s| !s.trim().is_empty());
    Vars {
        selector: set(selector),
        service: set(&sel.service),
        window,
        rollout: set(&sel.rollout),
    }
}

/// The explain report of `rollout` under `config` (loaded from `path`) at `now`. A config that
/// cannot be used is a `ConfigError`; an unreachable Prometheus is in the report.
pub async fn explain(
    config: &Config,
    path: &Path,
    rollout: &str,
    now: DateTime<Utc>,
) -> Result<ExplainReport, ConfigError> {
    if matches!(config.backend, Some(BackendConfig::Demo(_))) {
        return Err(config_error(
            path,
            "[backend] kind = \"demo\" runs the built-in simulator, which has no PromQL to \
             explain; point [prometheus] and [backend] at a real Prometheus and deploy backend",
        ));
    }
    let who = Identity {
        actor: "explain".into(),
        ssh_client: None,
    };
    // Read-only: explain never acts. The audit log is never written.
    let console = from_config(
        config,
        path,
        Some(rollout.to_string()),
        vec![],
        true,
        who,
        "/dev/null".into(),
    )?;
    let prometheus = config.prometheus.as_ref().ok_or_else(|| {
        config_error(
            path,
            "no [prometheus] section: add url = \"http://127.0.0.1:9090\"",
        )
    })?;
    let client = PrometheusClient::new(prometheus).map_err(|e| config_error(path, e))?;
    let selectors = console.query_selectors.clone().unwrap_or_default();
    let mut notes = Vec::new();
    let tracks = match &console.pod_hash_tracks {
        None => Some((selectors.baseline.clone(), selectors.canary.clone())),
        Some(pod_hash) => match console.backend.reader().get(rollout).await {
            Ok(r) => match pod_hash.tracks(Some(&r)) {
                Some(t) => {
                    notes.push(format!(
                        "tracks from the rollout's pod-template hashes: stable {}, canary {}",
                        r.stable_hash.as_deref().unwrap_or("?"),
                        r.canary_hash.as_deref().unwrap_or("?")
                    ));
                    Some((t.baseline, t.canary))
                }
                None => {
                    notes.push(format!(
                        "the backend reports no stable and canary pod-template hashes for {rollout} \
                         yet, so the metrics' tracks cannot be selected (or set baseline and \
                         canary in [[rollouts]])"
                    ));
                    None
                }
            },
            Err(e) => {
                notes.push(format!(
                    "cannot read {rollout} from the backend for its pod-template hashes: {e}"
                ));
                None
            }
        },
    };
    if let Some((baseline, canary)) = &tracks {
        notes.push(format!("baseline: {baseline}"));
        notes.push(format!("canary:   {canary}"));
    }
    let mut report = ExplainReport {
        rollout: rollout.to_string(),
        prometheus: client.url().to_string(),
        at: now,
        notes,
        unreachable: None,
        sections: Vec::new(),
    };
    // One query first: an unreachable Prometheus is said once, not once per query.
    if let Err(e) = client.query("1", now).await {
        use crate::metrics::decode::PromError;
        if matches!(
            e,
            PromError::Transport(_) | PromError::Timeout | PromError::Http { .. }
        ) {
            report.unreachable = Some(format!(
                "{e} — check [prometheus] url in {}",
                path.display()
            ));
            return Ok(report);
        }
    }
    let mut planned = plan(config, &selectors, tracks.as_ref(), &mut report.sections);
    planned.extend(plan_recorded(config, rollout, &mut report.sections));
    let diagnoser = Diagnoser::new(&client, now);
    let answers = futures::future::join_all(planned.iter().map(|p| {
        let diagnoser = &diagnoser;
        async move {
            match &p.promql {
                Ok(q) => diagnoser.run_once(q).await,
                Err(e) => QueryAnswer::Error { error: e.clone() },
            }
        }
    }))
    .await;
    for (p, answer) in planned.into_iter().zip(answers) {
        report.sections[p.section].queries.push(Explained {
            label: p.label,
            promql: p.promql.unwrap_or_default(),
            answer,
            one_series: p.one_series,
        });
    }
    Ok(report)
}

/// Every query of the config for these tracks, with a section per metric and SLO.
fn plan(
    config: &Config,
    sel: &Selectors,
    tracks: Option<&(String, String)>,
    sections: &mut Vec<Section>,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    let no_tracks = "no baseline/canary selector: see the note above".to_string();
    for m in &config.metrics {
        let section = sections.len();
        sections.push(Section {
            kind: "metric".into(),
            name: m.name.clone(),
            queries: Vec::new(),
        });
        let window = Some(m.window.unwrap_or(DEFAULT_WINDOW));
        let counters = [
            ("histogram", &m.histogram),
            ("errors", &m.errors),
            ("total", &m.total),
        ];
        let entries = std::iter::once(("", Some(&m.query)))
            .chain(counters.iter().map(|(k, c)| (*k, c.as_ref())));
        for (key, template) in entries {
            let Some(template) = template else { continue };
            for (track, index) in [("baseline", 0), ("canary", 1)] {
                let label = if key.is_empty() {
                    track.to_string()
                } else {
                    format!("{key} {track}")
                };
                let promql = match tracks {
                    None => Err(no_tracks.clone()),
                    Some(t) => {
                        let selector = if index == 0 { &t.0 } else { &t.1 };
                        // Counters are read raw: no `$window`.
                        let window = if key.is_empty() { window } else { None };
                        template::render(template.get_ref(), &vars(sel, selector, window))
                    }
                };
                planned.push(Planned {
                    section,
                    label,
                    promql,
                    one_series: key.is_empty(),
                });
            }
        }
    }
    for s in &config.slos {
        let section = sections.len();
        sections.push(Section {
            kind: "slo".into(),
            name: s.name.clone(),
            queries: Vec::new(),
        });
        let recorded = s.recorded_by_window();
        let own = template::prom_duration(s.window);
        let windows = std::iter::once((own.as_str(), s.window)).chain(BURN_WINDOWS);
        for (label, window) in windows {
            let vars = vars(sel, "", Some(window));
            let own_label = template::prom_label(window);
            let series = recorded
                .iter()
                .find(|(l, _)| l == label || (window == s.window && *l == own_label));
            let promql = match series {
                Some((_, t)) => template::render_recorded(t, &vars),
                None => template::render(s.error_ratio.get_ref(), &vars),
            };
            planned.push(Planned {
                section,
                label: format!("over {label}"),
                promql,
                one_series: true,
            });
        }
    }
    planned
}

/// With `[fleet] recorded = true`: the recording rule each metric and SLO window is read from,
/// for this rollout (a rule not loaded, or older than the config, is found as any empty answer
/// is: the record's name missing, or no series with this query's digest).
fn plan_recorded(config: &Config, rollout: &str, sections: &mut Vec<Section>) -> Vec<Planned> {
    use crate::metrics::rules::{self, Fleet};
    let fleet = &config.fleet;
    let (true, Some(label), Some(service)) = (
        fleet.recorded.as_ref().is_some_and(|r| *r.get_ref()),
        &fleet.group_by,
        &fleet.service,
    ) else {
        return Vec::new();
    };
    let labels = Fleet {
        label,
        hash_label: &fleet.pod_hash_label,
        service: service.get_ref(),
    };
    let member = [rollout.rsplit('/').next().unwrap_or(rollout).to_string()];
    let section = sections.len();
    sections.push(Section {
        kind: "recorded".into(),
        name: "the recording rules `rollout-console rules` writes".into(),
        queries: Vec::new(),
    });
    let mut planned = Vec::new();
    for m in &config.metrics {
        let window = m.window.unwrap_or(DEFAULT_WINDOW);
        if let Ok(rule) = rules::metric_rule(labels, &m.name, m.query.get_ref(), window) {
            planned.push(Planned {
                section,
                label: m.name.clone(),
                promql: Ok(rule.read(label, &member)),
                one_series: false,
            });
        }
    }
    for s in config.slos.iter().filter(|s| s.recorded.is_none()) {
        let Ok(windows) = rules::slo_rules(labels, &s.name, s.error_ratio.get_ref(), s.window)
        else {
            continue;
        };
        for (window, rule) in windows {
            planned.push(Planned {
                section,
                label: format!("{} over {window}", s.name),
                promql: Ok(rule.read(label, &member)),
                one_series: true,
            });
        }
    }
    planned
}
