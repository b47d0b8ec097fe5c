//! From a config (or the demo's options) to the objects the console runs with: settings, panels,
//! the backend handle (read-only = reader only) and the metrics source. No terminal here.

use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::app::Msg;
use crate::app::model::{EventLevel, MetricPanel, Model, PodHashTracks, Settings, SloPanel};
use crate::app::runner::EffectRunner;
use crate::audit::AuditLog;
use crate::backend::BackendHandle;
use crate::backend::http::{HttpController, HttpReader};
use crate::config::{BackendKind, Config, ConfigError};
use crate::domain::{MetricDef, SloDef};
use crate::metrics::MetricsSource;
use crate::metrics::client::PrometheusClient;
use crate::metrics::source::{PrometheusSource, Selectors};
use crate::notify::Notifier;
use crate::sim::backend::{SimController, SimReader};
use crate::sim::source::SimMetrics;
use crate::sim::{Scenario, SimOptions, Simulator};

/// Everything `run_console` needs besides the terminal.
pub struct Console {
    pub settings: Settings,
    pub panels: Vec<MetricPanel>,
    pub slos: Vec<SloPanel>,
    pub backend: BackendHandle,
    pub source: Arc<dyn MetricsSource>,
    pub audit_path: PathBuf,
    /// Lines for the events pane at start (what is running, with which seed...).
    pub intro: Vec<String>,
    /// `[notify]`: a webhook message per action.
    pub notifier: Option<Arc<Notifier>>,
    /// `[judge]` score thresholds.
    pub judge_thresholds: crate::domain::judge::ScoreThresholds,
    /// `[judge] alpha`.
    pub sequential_alpha: f64,
    /// Track selectors from the rollout's pod-template hashes, when the config names none.
    pub pod_hash_tracks: Option<PodHashTracks>,
    /// The Prometheus selectors, to show the queries as sent; `None` for the simulator.
    pub query_selectors: Option<Selectors>,
}

impl Console {
    /// The model (with the intro events) and the effect runner both the TUI and `check` run on,
    /// with the channel its answers come back on.
    pub fn start(
        self,
        now: chrono::DateTime<Utc>,
    ) -> (
        Model,
        EffectRunner,
        tokio::sync::mpsc::UnboundedReceiver<Msg>,
    ) {
        let mut model = Model::new(self.settings, self.panels, self.slos, now);
        model.judge_thresholds = self.judge_thresholds;
        model.sequential_alpha = self.sequential_alpha;
        model.actions = self.backend.reader().actions();
        model.pod_hash_tracks = self.pod_hash_tracks;
        model.query_selectors = self.query_selectors;
        for line in self.intro {
            model.push_event(EventLevel::Info, line);
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let runner = EffectRunner {
            backend: self.backend,
            source: self.source,
            audit: AuditLog::new(self.audit_path),
            notifier: self.notifier,
            tx,
        };
        (model, runner, rx)
    }
}

/// Who is acting, from the environment (`$USER@host`, SSH client).
pub struct Identity {
    pub actor: String,
    pub ssh_client: Option<String>,
}

pub struct DemoSetup {
    pub scenario: Scenario,
    pub speed: f64,
    /// Requests per second across both tracks (`--rps`).
    pub service_rps: f64,
    pub seed: u64,
    pub poll_interval: Duration,
    pub rollout: String,
    pub read_only: bool,
    pub audit_path: PathBuf,
}

pub fn demo(d: DemoSetup, who: Identity) -> Console {
    let options = SimOptions {
        scenario: d.scenario,
        seed: d.seed,
        speed: d.speed,
        rollout_name: d.rollout.clone(),
        service_rps: d.service_rps,
    };
    let sim = Arc::new(Mutex::new(Simulator::new(options, Utc::now())));
    // Read-only mode is enforced here: the app is handed a reader with no mutating methods.
    let backend = if d.read_only {
        BackendHandle::ReadOnly(Arc::new(SimReader::new(sim.clone())))
    } else {
        BackendHandle::ReadWrite(Arc::new(SimController::new(sim.clone())))
    };
    let source: Arc<dyn MetricsSource> = Arc::new(SimMetrics::new(sim));
    let settings = Settings {
        rollout_name: d.rollout,
        read_only: d.read_only,
        poll_interval: d.poll_interval.max(Duration::from_millis(200)),
        min_budget_to_promote_pct: 10.0,
        actor: who.actor,
        ssh_client: who.ssh_client,
        source_label: backend.reader().describe(),
        audit_path: d.audit_path.display().to_string(),
    };
    let seed = d.seed;
    let mut intro = vec![format!(
        "demo: {} — {} (seed {seed}; --seed {seed} replays it)",
        d.scenario,
        d.scenario.description()
    )];
    if d.read_only {
        intro.push("watch mode: read-only, no action can be sent".into());
    }
    Console {
        settings,
        panels: demo_panels::metric_panels(),
        slos: demo_panels::slo_panels(),
        backend,
        source,
        audit_path: d.audit_path,
        intro,
        notifier: None,
        judge_thresholds: Default::default(),
        sequential_alpha: crate::domain::sequential::DEFAULT_ALPHA,
        pod_hash_tracks: None,
        query_selectors: None,
    }
}

fn config_error(path: &Path, what: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("config error in {}: {what}", path.display()))
}

/// A secret from its file, without the trailing newline. An empty file is an error naming it (as
/// Prometheus's `bearer_token_file` is): it would otherwise go out as `Authorization: Bearer `.
fn read_secret(path: &Path, what: &str, config: &Path) -> Result<String, ConfigError> {
    let secret = std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|e| config_error(config, format!("{what} {}: {e}", path.display())))?;
    if secret.is_empty() {
        return Err(config_error(
            config,
            format!("{what} {} is empty", path.display()),
        ));
    }
    Ok(secret)
}

/// Build the console a config describes. `rollout` and `read_only` come from the CLI (they win).
pub fn from_config(
    config: &Config,
    path: &Path,
    rollout: Option<String>,
    read_only: bool,
    who: Identity,
    default_audit: PathBuf,
) -> Result<Console, ConfigError> {
    let read_only = read_only || config.read_only;
    let audit_path = config.audit_log.clone().unwrap_or(default_audit);
    let backend_cfg = config.backend.as_ref().ok_or_else(|| {
        config_error(
            path,
            "no [backend] section; add one (kind = \"http\", or \"demo\" for the simulator)",
        )
    })?;
    if backend_cfg.kind == BackendKind::Demo {
        let scenario = match backend_cfg.scenario.as_deref() {
            Some(s) => s
                .parse()
                .map_err(|e: String| config_error(path, format!("[backend] scenario: {e}")))?,
            None => Scenario::Healthy,
        };
        let name = rollout
            .or_else(|| config.rollouts.first().map(|r| r.name.clone()))
            .unwrap_or_else(|| "checkout".into());
        return Ok(demo(
            DemoSetup {
                scenario,
                speed: backend_cfg.speed.unwrap_or(20.0),
                service_rps: crate::sim::SERVICE_RPS,
                seed: backend_cfg.seed.unwrap_or(1),
                poll_interval: config.poll_interval,
                rollout: name,
                read_only,
                audit_path,
            },
            who,
        ));
    }
    let backend = match backend_cfg.kind {
        BackendKind::Http => {
            let url = backend_cfg.url.as_deref().ok_or_else(|| {
                config_error(
                    path,
                    "[backend] kind = \"http\" needs url = \"http://host:port\"",
                )
            })?;
            let token = backend_cfg
                .token_file
                .as_deref()
                .map(|f| read_secret(f, "[backend] token_file", path))
                .transpose()?;
            let reader = HttpReader::new(url, token, Duration::from_secs(10))
                .map_err(|e| config_error(path, e))?;
            if read_only {
                BackendHandle::ReadOnly(Arc::new(reader))
            } else {
                BackendHandle::ReadWrite(Arc::new(HttpController::new(reader)))
            }
        }
        BackendKind::Command => {
            use crate::backend::command::{CommandController, CommandReader};
            let example = "status = [\"./deploy.sh\", \"status\", \"{name}\"] \
                           (and promote / pause / resume / rollback to act)";
            let command = backend_cfg.command.as_ref().ok_or_else(|| {
                config_error(
                    path,
                    format!(
                        "[backend] kind = \"command\" needs a [backend.command] section with \
                         {example}"
                    ),
                )
            })?;
            if command.status.is_empty() {
                return Err(config_error(
                    path,
                    format!(
                        "[backend.command] status is empty: give the command that prints the \
                         rollout's JSON, e.g. {example}"
                    ),
                ));
            }
            // Read-only builds the reader alone: no action command can be reached from the keys.
            if read_only {
                let reader = CommandReader::new(command).map_err(|e| config_error(path, e))?;
                BackendHandle::ReadOnly(Arc::new(reader))
            } else {
                let controller =
                    CommandController::new(command).map_err(|e| config_error(path, e))?;
                BackendHandle::ReadWrite(Arc::new(controller))
            }
        }
        BackendKind::Argo => {
            use crate::backend::argo::{ArgoController, ArgoReader, ArgoSettings};
            // The server and credentials come from the kubeconfig, as for kubectl.
            if backend_cfg.url.is_some() || backend_cfg.token_file.is_some() {
                return Err(config_error(
                    path,
                    "[backend] kind = \"argo\" takes the server and credentials from the \
                     kubeconfig: remove url / token_file (choose a context = \"...\" instead)",
                ));
            }
            let reader = ArgoReader::new(ArgoSettings {
                kubeconfig: None,
                context: backend_cfg.context.clone(),
                namespace: backend_cfg.namespace.clone(),
                timeout: Some(Duration::from_secs(10)),
            });
            // Read-only builds the reader alone: it has no method that patches.
            if read_only {
                BackendHandle::ReadOnly(Arc::new(reader))
            } else {
                BackendHandle::ReadWrite(Arc::new(ArgoController::new(reader)))
            }
        }
        other => {
            return Err(config_error(
                path,
                format!(
                    "[backend] kind = \"{}\" is not in this build yet; use \"http\", \"command\" or \"demo\"",
                    format!("{other:?}").to_lowercase()
                ),
            ));
        }
    };
    let prometheus = config.prometheus.as_ref().ok_or_else(|| {
        config_error(
            path,
            "no [prometheus] section: add url = \"http://127.0.0.1:9090\"",
        )
    })?;
    let name = rollout
        .or_else(|| config.rollouts.first().map(|r| r.name.clone()))
        .ok_or_else(|| {
            config_error(
                path,
                "no rollout to show: pass --rollout NAME or add a [[rollouts]] entry",
            )
        })?;
    // `--rollout NAME` without an entry: the tracks come from the pod-template hashes and there
    // is no service selector (fine for Argo, whose rollouts report their hashes).
    let unlisted;
    let entry = match config.rollouts.iter().find(|r| r.name == name) {
        Some(entry) => entry,
        None => {
            unlisted = crate::config::RolloutConfig::unlisted(&name);
            &unlisted
        }
    };
    let service = match &entry.service {
        Some(service) => service.clone(),
        None => {
            let uses = |q: &str| q.contains("$service") || q.contains("${service}");
            let user = config
                .metrics
                .iter()
                .find(|m| uses(m.query.get_ref()))
                .map(|m| format!("[[metrics]] {:?}", m.name))
                .or_else(|| {
                    config
                        .slos
                        .iter()
                        .find(|s| uses(s.error_ratio.get_ref()))
                        .map(|s| format!("[[slos]] {:?}", s.name))
                });
            if let Some(user) = user {
                return Err(config_error(
                    path,
                    format!(
                        "rollout {name:?} has no service selector, and {user} uses $service: \
                         add a [[rollouts]] entry with name = {name:?} and \
                         service = '<label matchers>'"
                    ),
                ));
            }
            String::new()
        }
    };
    let mut intro = Vec::new();
    let (baseline, canary, pod_hash_tracks) = match (&entry.baseline, &entry.canary) {
        (Some(b), Some(c)) => (b.clone(), c.clone(), None),
        (None, None) => {
            intro.push(format!(
                "PromQL tracks: the rollout's pod-template hashes ({}=\"<stable|canary hash>\"), with {service}",
                entry.pod_hash_label
            ));
            let tracks = PodHashTracks {
                label: entry.pod_hash_label.clone(),
                service: service.clone(),
            };
            (String::new(), String::new(), Some(tracks))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(config_error(
                path,
                format!(
                    "[[rollouts]] {name:?} sets only one of baseline / canary: set both, or \
                     neither to use the rollout's pod-template hashes"
                ),
            ));
        }
    };
    let selectors = Selectors {
        baseline,
        canary,
        service,
        rollout: name.clone(),
    };
    let client = PrometheusClient::new(prometheus).map_err(|e| config_error(path, e))?;
    let query_selectors = Some(selectors.clone());
    let source: Arc<dyn MetricsSource> = Arc::new(PrometheusSource::new(client, selectors));
    let panels = config
        .metrics
        .iter()
        .map(|m| {
            let mut p = MetricPanel::new(
                MetricDef {
                    name: m.name.clone(),
                    unit: m.unit,
                    gate: m.gate.clone(),
                },
                m.query.get_ref().clone(),
            );
            p.window = m.window;
            p.judge = m.judge_settings();
            p.counters = m.counters();
            p.sequential = m.sequential_settings();
            p.critical = m.critical;
            p.weight = m.weight;
            p
        })
        .collect();
    let slos = config
        .slos
        .iter()
        .map(|s| {
            SloPanel::new(
                SloDef {
                    name: s.name.clone(),
                    objective_pct: s.objective,
                    window: s.window,
                },
                s.error_ratio.get_ref().clone(),
            )
        })
        .collect();
    let settings = Settings {
        rollout_name: name,
        read_only,
        poll_interval: config.poll_interval,
        min_budget_to_promote_pct: config.policy.min_budget_to_promote,
        actor: who.actor,
        ssh_client: who.ssh_client,
        source_label: format!("{} · {}", source.describe(), backend.reader().describe()),
        audit_path: audit_path.display().to_string(),
    };
    intro.insert(
        0,
        format!("config {}: {}", path.display(), settings.source_label),
    );
    if read_only {
        intro.push("watch mode: read-only, no action can be sent".into());
    }
    let notifier = notifier(config, path)?;
    Ok(Console {
        settings,
        panels,
        slos,
        backend,
        source,
        audit_path,
        intro,
        notifier,
        judge_thresholds: config.judge.thresholds(),
        sequential_alpha: config.judge.alpha,
        pod_hash_tracks,
        query_selectors,
    })
}

/// The webhook from `[notify]`: `webhook_url_file`, else `$ROLLOUT_CONSOLE_WEBHOOK_URL`, else
/// `webhook_url` (the URL carries a token, so a file or the environment is the better home).
fn notifier(config: &Config, path: &Path) -> Result<Option<Arc<Notifier>>, ConfigError> {
    let Some(n) = &config.notify else {
        return Ok(None);
    };
    let url = match (
        &n.webhook_url_file,
        std::env::var("ROLLOUT_CONSOLE_WEBHOOK_URL").ok(),
        &n.webhook_url,
    ) {
        (Some(file), _, _) => read_secret(file, "[notify] webhook_url_file", path)?,
        (None, Some(env), _) => env,
        (None, None, Some(url)) => url.clone(),
        (None, None, None) => {
            return Err(config_error(
                path,
                "[notify] needs webhook_url_file = \"/path\" (or webhook_url, or $ROLLOUT_CONSOLE_WEBHOOK_URL)",
            ));
        }
    };
    Notifier::new(&url, n.timeout)
        .map(|n| Some(Arc::new(n)))
        .map_err(|e| config_error(path, e))
}

/// Every query of the config, rendered as the console will send it, parsed by Prometheus once at
/// start-up: a query it cannot parse is a config error naming the key's file:line:col. Each is
/// evaluated at an instant long before any data (so it costs nothing); only a parse error
/// (`bad_data`) fails here. An unreachable Prometheus does not: the console shows it as a source
/// error and keeps polling.
pub async fn check_queries(config: &Config, path: &Path, rollout: &str) -> Result<(), ConfigError> {
    use crate::metrics::decode::PromError;
    use crate::metrics::source::DEFAULT_WINDOW;
    use crate::metrics::template::{self, Vars};
    let Some(prometheus) = &config.prometheus else {
        return Ok(());
    };
    if config.backend.as_ref().map(|b| b.kind) == Some(BackendKind::Demo) {
        return Ok(());
    }
    let Ok(client) = PrometheusClient::new(prometheus) else {
        return Ok(()); // from_config has already reported a bad [prometheus] section
    };
    // The selectors as they will be; with pod-template hashes, a stand-in hash.
    let entry = config.rollouts.iter().find(|r| r.name == rollout);
    let service = entry.and_then(|r| r.service.clone()).unwrap_or_default();
    let selector = match entry.and_then(|r| r.baseline.clone()) {
        Some(baseline) => baseline,
        None => {
            let label = entry.map_or_else(
                || crate::config::RolloutConfig::unlisted(rollout).pod_hash_label,
                |r| r.pod_hash_label.clone(),
            );
            let hash = format!("{label}=\"0\"");
            if service.is_empty() {
                hash
            } else {
                format!("{service}, {hash}")
            }
        }
    };
    let mut queries: Vec<(String, &toml::Spanned<String>, Duration)> = Vec::new();
    for m in &config.metrics {
        let window = m.window.unwrap_or(DEFAULT_WINDOW);
        let what = format!("[[metrics]] {:?}", m.name);
        queries.push((format!("{what}: query"), &m.query, window));
        for (key, counter) in [
            ("histogram", &m.histogram),
            ("errors", &m.errors),
            ("total", &m.total),
        ] {
            if let Some(counter) = counter {
                queries.push((format!("{what}: {key}"), counter, window));
            }
        }
    }
    for s in &config.slos {
        let what = format!("[[slos]] {:?}: error_ratio", s.name);
        queries.push((what, &s.error_ratio, s.window));
    }
    // 2000-01-01: before any data, so Prometheus parses the query and evaluates it on nothing.
    let at = chrono::DateTime::from_timestamp(946_684_800, 0).unwrap_or_default();
    let answers = futures::future::join_all(queries.iter().map(|(_, template, window)| {
        let vars = Vars {
            selector: Some(&selector),
            service: Some(&service),
            window: Some(*window),
            rollout: Some(rollout),
        };
        let client = &client;
        async move {
            match template::render(template.get_ref(), &vars) {
                Ok(promql) => client.query(&promql, at).await.map(|_| ()),
                Err(_) => Ok(()), // template errors are reported by config::parse
            }
        }
    }))
    .await;
    for ((what, template, _), answer) in queries.iter().zip(answers) {
        match answer {
            Err(PromError::Api {
                error_type, error, ..
            }) if error_type == "bad_data" || error.contains("parse") => {
                return Err(ConfigError(format!(
                    "config error in {}: {what}: Prometheus cannot parse it: {error}",
                    crate::config::located(path, template.span())
                )));
            }
            Err(e) => {
                tracing::warn!(%what, error = %e, "query not checked at start-up");
            }
            Ok(()) => {}
        }
    }
    Ok(())
}

/// `--rollout` left out and no `[[rollouts]]` entry: an http backend that lists exactly one rollout
/// names it; several are an error listing them. `None` leaves the choice to `from_config` (other
/// backends, or a backend that does not answer: its error then says to pass --rollout).
pub async fn default_rollout(config: &Config, path: &Path) -> Result<Option<String>, ConfigError> {
    use crate::backend::RolloutReader;
    let Some(backend) = &config.backend else {
        return Ok(None);
    };
    let (BackendKind::Http, Some(url), true) =
        (backend.kind, &backend.url, config.rollouts.is_empty())
    else {
        return Ok(None);
    };
    let token = backend
        .token_file
        .as_deref()
        .map(|f| read_secret(f, "[backend] token_file", path))
        .transpose()?;
    let Ok(reader) = HttpReader::new(url, token, Duration::from_secs(10)) else {
        return Ok(None); // from_config reports a bad url
    };
    match reader.list().await {
        Ok(names) if names.len() == 1 => Ok(names.into_iter().next()),
        Ok(names) if names.len() > 1 => Err(ConfigError(format!(
            "the deploy API at {url} has {} rollouts ({}): pass --rollout NAME, or add a \
             [[rollouts]] entry to {}",
            names.len(),
            names.join(", "),
            path.display()
        ))),
        Ok(_) | Err(_) => Ok(None),
    }
}

/// The demo's panels, built from the simulator's definitions (`sim::demo`): the wiring joins
/// them, so neither the simulator nor the app imports the other.
pub mod demo_panels {
    use crate::app::model::{MetricPanel, SloPanel};
    use crate::sim::demo;

    pub fn metric_panels() -> Vec<MetricPanel> {
        demo::metrics()
            .into_iter()
            .map(|m| {
                let mut panel = MetricPanel::new(m.def, m.query);
                panel.counters = m.counters;
                panel.sequential = m.sequential;
                panel.critical = m.critical;
                panel
            })
            .collect()
    }

    pub fn slo_panels() -> Vec<SloPanel> {
        demo::slos()
            .into_iter()
            .map(|(def, query)| SloPanel::new(def, query))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_secret_file_is_refused_by_name() {
        let empty = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(empty.path(), "\n").expect("write");
        let config = Path::new("/etc/rollout-console.toml");
        let err = read_secret(empty.path(), "[backend] token_file", config)
            .expect_err("an empty token file is refused")
            .to_string();
        assert!(
            err.contains("[backend] token_file") && err.contains("is empty"),
            "{err}"
        );
        assert!(err.contains(&empty.path().display().to_string()), "{err}");
        std::fs::write(empty.path(), "s3cret\n").expect("write");
        let secret = read_secret(empty.path(), "[backend] token_file", config).expect("secret");
        assert_eq!(secret, "s3cret");
    }
}
