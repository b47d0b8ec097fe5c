//! From a config (or the demo's options) to the objects the console runs with: settings, panels,
//! the backend handle (read-only = reader only) and the metrics source. No terminal here.
//! `from_config` calls one function per concern: `backend` (one line per kind: each backend
//! builds itself from its settings), `selectors` and `metrics_source` (Prometheus),
//! `metric_panels`, `slo_panels` and `notifier`. Secret files are read with
//! `metrics::client::read_secret`, the one reader of them.

mod explain;
mod fleet;
mod init;
mod rules;

pub use explain::explain;
pub use fleet::{FleetStart, listed_rollouts};
pub use init::{InitError, InitOutcome, InitRequest, init};
pub use rules::rules_file;

use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::app::Msg;
use crate::app::model::{EventLevel, MetricPanel, Model, PodHashTracks, Settings, SloPanel};
use crate::app::runner::EffectRunner;
use crate::audit::AuditLog;
use crate::backend::BackendHandle;
use crate::config::{
    BackendChoice, BackendConfig, Config, ConfigError, DemoConfig, PrometheusConfig,
};
use crate::domain::{MetricDef, SloDef};
use crate::metrics::MetricsSource;
use crate::metrics::client::{PrometheusClient, read_secret};
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
    /// `[prometheus] slo_refresh`; zero for the simulator.
    pub slo_refresh: std::time::Duration,
    /// `[judge] alpha`.
    pub sequential_alpha: f64,
    /// Track selectors from the rollout's pod-template hashes, when the config names none.
    pub pod_hash_tracks: Option<PodHashTracks>,
    /// The Prometheus selectors, to show the queries as sent; `None` for the simulator.
    pub query_selectors: Option<Selectors>,
    /// Several rollouts (the fleet list); `None`: the one in `settings`.
    pub fleet: Option<FleetStart>,
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
        if let Some(fleet) = self.fleet {
            model = model.with_rollouts(fleet.rollouts);
            model.template = Some(fleet.template);
        }
        model.judge_thresholds = self.judge_thresholds;
        model.slo_refresh = self.slo_refresh;
        model.sequential_alpha = self.sequential_alpha;
        model.actions = self.backend.reader().actions();
        model.reads_fleet_whole = self.backend.reader().reads_fleet_whole();
        if model.rollouts.len() == 1 {
            model.current_mut().pod_hash_tracks = self.pod_hash_tracks;
        }
        model.query_selectors = self.query_selectors;
        for line in self.intro {
            if model.rollouts.len() > 1 {
                model.push_fleet_event(EventLevel::Info, line.clone());
            }
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
    /// `demo --fleet N`: N simulated rollouts on the fleet list.
    pub fleet: Option<usize>,
}

pub fn demo(d: DemoSetup, who: Identity) -> Console {
    let options = SimOptions {
        scenario: d.scenario,
        seed: d.seed,
        speed: d.speed,
        rollout_name: d.rollout.clone(),
        service_rps: d.service_rps,
    };
    let sims = match d.fleet {
        Some(n) => crate::sim::Fleet::new(n, &options, Utc::now()),
        None => {
            crate::sim::Fleet::single(Arc::new(Mutex::new(Simulator::new(options, Utc::now()))))
        }
    };
    // Read-only: the app is handed a reader with no mutating methods.
    let backend = {
        let sims = sims.clone();
        BackendHandle::new(SimReader::fleet(sims.clone()), d.read_only, move |_| {
            SimController::fleet(sims)
        })
    };
    let source: Arc<dyn MetricsSource> = Arc::new(SimMetrics::fleet(sims.clone()));
    let fleet = (sims.len() > 1).then(|| fleet::demo_fleet(sims.names().map(str::to_string)));
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
    let mut intro = vec![match d.fleet {
        Some(n) => format!(
            "demo: a fleet of {n} simulated rollouts, mixed scenarios (seed {seed}; --seed {seed} replays it)"
        ),
        None => format!(
            "demo: {} — {} (seed {seed}; --seed {seed} replays it)",
            d.scenario,
            d.scenario.description()
        ),
    }];
    if backend.is_read_only() {
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
        slo_refresh: std::time::Duration::ZERO,
        sequential_alpha: crate::domain::sequential::DEFAULT_ALPHA,
        pod_hash_tracks: None,
        query_selectors: None,
        fleet,
    }
}

fn config_error(path: &Path, what: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("config error in {}: {what}", path.display()))
}

/// Build the console a config describes. `rollout` and `read_only` come from the CLI (they win).
/// Without `--rollout`, the console follows the config's `[[rollouts]]` and the rollouts the
/// backend `listed` (see [`listed_rollouts`]): the fleet list when that is more than one.
pub fn from_config(
    config: &Config,
    path: &Path,
    rollout: Option<String>,
    listed: Vec<String>,
    read_only: bool,
    who: Identity,
    default_audit: PathBuf,
) -> Result<Console, ConfigError> {
    let read_only = read_only || config.read_only;
    let audit_path = config.audit_log.clone().unwrap_or(default_audit);
    let backend_config = config.backend.as_ref().ok_or_else(|| {
        config_error(
            path,
            "no [backend] section; add one (kind = \"http\", or \"demo\" for the simulator)",
        )
    })?;
    let backend = match backend(backend_config, read_only).map_err(|e| config_error(path, e))? {
        Backend::Deploy(backend) => backend,
        Backend::Simulator(demo_config) => {
            let setup =
                demo_from_config(demo_config, config, path, rollout, read_only, audit_path)?;
            return Ok(demo(setup, who));
        }
    };
    let prometheus = config.prometheus.as_ref().ok_or_else(|| {
        config_error(
            path,
            "no [prometheus] section: add url = \"http://127.0.0.1:9090\"",
        )
    })?;
    let names = match rollout {
        Some(name) => vec![name],
        None => fleet::fleet_names(config, listed),
    };
    let name = names.first().cloned().ok_or_else(|| {
        config_error(
            path,
            "no rollout to show: pass --rollout NAME or add a [[rollouts]] entry (the backend \
             listed none)",
        )
    })?;
    let mut intro = Vec::new();
    let fleet = if names.len() > 1 {
        Some(fleet::configured_fleet(config, path, &names, &mut intro)?)
    } else {
        None
    };
    // A fleet's first rollout may be one the config does not name: its rows carry their own.
    let (selectors, pod_hash_tracks) = match &fleet {
        Some(f) => (
            f.rollouts[0].selectors.clone().unwrap_or_default(),
            f.rollouts[0].pod_hash_tracks.clone(),
        ),
        None => selectors(config, &name, &mut intro).map_err(|e| config_error(path, e))?,
    };
    let query_selectors = Some(selectors.clone());
    let source = metrics_source(prometheus, selectors).map_err(|e| config_error(path, e))?;
    let settings = Settings {
        rollout_name: name,
        read_only: backend.is_read_only(),
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
    if backend.is_read_only() {
        intro.push("watch mode: read-only, no action can be sent".into());
    }
    Ok(Console {
        settings,
        panels: metric_panels(config),
        slos: slo_panels(config),
        backend,
        source,
        audit_path,
        intro,
        notifier: notifier(config, path)?,
        judge_thresholds: config.judge.thresholds(),
        slo_refresh: prometheus.slo_refresh,
        sequential_alpha: config.judge.alpha,
        pod_hash_tracks,
        query_selectors,
        fleet,
    })
}

/// What `[backend]` builds: a deploy backend, or the simulator (which is the metrics source too,
/// so `demo` builds the whole console).
enum Backend<'a> {
    Deploy(BackendHandle),
    Simulator(&'a DemoConfig),
}

/// The backend `[backend]` names, read-only or not: `config` maps it to its settings and the
/// settings build it. No line per backend here.
fn backend(config: &BackendConfig, read_only: bool) -> Result<Backend<'_>, String> {
    match config.settings()? {
        BackendChoice::Deploy(settings) => settings
            .build(read_only)
            .map(Backend::Deploy)
            .map_err(|e| e.to_string()),
        BackendChoice::Simulator(demo) => Ok(Backend::Simulator(demo)),
    }
}

/// `kind = "demo"` in a config: the simulator with the config's scenario, seed and speed.
fn demo_from_config(
    demo: &DemoConfig,
    config: &Config,
    path: &Path,
    rollout: Option<String>,
    read_only: bool,
    audit_path: PathBuf,
) -> Result<DemoSetup, ConfigError> {
    let scenario = match demo.scenario.as_deref() {
        Some(s) => s
            .parse()
            .map_err(|e: String| config_error(path, format!("[backend] scenario: {e}")))?,
        None => Scenario::Healthy,
    };
    Ok(DemoSetup {
        scenario,
        speed: demo.speed.unwrap_or(20.0),
        service_rps: crate::sim::SERVICE_RPS,
        seed: demo.seed.unwrap_or(1),
        poll_interval: config.poll_interval,
        rollout: rollout_name(config, rollout).unwrap_or_else(|| "checkout".into()),
        read_only,
        audit_path,
        fleet: None,
    })
}

/// `--rollout NAME`, else the first `[[rollouts]]` entry.
fn rollout_name(config: &Config, rollout: Option<String>) -> Option<String> {
    rollout.or_else(|| config.rollouts.first().map(|r| r.name.clone()))
}

/// The PromQL selectors of rollout `name`'s tracks and service, and the pod-hash tracks when the
/// config names no baseline and canary (with a line for the intro saying so).
fn selectors(
    config: &Config,
    name: &str,
    intro: &mut Vec<String>,
) -> Result<(Selectors, Option<PodHashTracks>), String> {
    // `--rollout NAME` without an entry: the tracks come from the pod-template hashes and there
    // is no service selector (fine for Argo, whose rollouts report their hashes).
    let unlisted;
    let entry = match config.rollouts.iter().find(|r| r.name == name) {
        Some(entry) => entry,
        None => {
            unlisted = crate::config::RolloutConfig::unlisted(name);
            &unlisted
        }
    };
    let service = match (&entry.service, &config.fleet.service) {
        (Some(service), _) => service.clone(),
        // A rollout the config does not name: `[fleet] service`, with its name.
        (None, Some(fleet)) => {
            let bare = name.rsplit('/').next().unwrap_or(name);
            crate::metrics::template::fill_rollout(fleet.get_ref(), bare)
        }
        (None, None) => {
            if let Some(user) = service_user(config) {
                return Err(format!(
                    "rollout {name:?} has no service selector, and {user} uses $service: \
                     add a [[rollouts]] entry with name = {name:?} and \
                     service = '<label matchers>', or [fleet] service = 'app=\"$rollout\"'"
                ));
            }
            String::new()
        }
    };
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
            return Err(format!(
                "[[rollouts]] {name:?} sets only one of baseline / canary: set both, or \
                 neither to use the rollout's pod-template hashes"
            ));
        }
    };
    let selectors = Selectors {
        baseline,
        canary,
        service,
        rollout: name.to_string(),
    };
    Ok((selectors, pod_hash_tracks))
}

/// The Prometheus source of `[prometheus]`, querying with `selectors`.
fn metrics_source(
    prometheus: &PrometheusConfig,
    selectors: Selectors,
) -> Result<Arc<dyn MetricsSource>, String> {
    let client = PrometheusClient::new(prometheus)?;
    Ok(Arc::new(PrometheusSource::new(client, selectors)))
}

/// The first metric or SLO whose query uses `$service`, by its config name.
fn service_user(config: &Config) -> Option<String> {
    let uses = |q: &str| q.contains("$service") || q.contains("${service}");
    config
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
        })
}

/// A panel per `[[metrics]]` entry.
fn metric_panels(config: &Config) -> Vec<MetricPanel> {
    config
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
        .collect()
}

/// A panel per `[[slos]]` entry.
fn slo_panels(config: &Config) -> Vec<SloPanel> {
    config
        .slos
        .iter()
        .map(|s| {
            SloPanel::new(
                SloDef {
                    name: s.name.clone(),
                    objective_pct: s.objective,
                    window: s.window,
                    recorded: s.recorded_by_window(),
                },
                s.error_ratio.get_ref().clone(),
            )
        })
        .collect()
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
        (Some(file), _, _) => {
            read_secret(file, "[notify] webhook_url_file").map_err(|e| config_error(path, e))?
        }
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
    if matches!(config.backend, Some(BackendConfig::Demo(_))) {
        return Ok(());
    }
    let Ok(client) = PrometheusClient::new(prometheus) else {
        return Ok(()); // from_config has already reported a bad [prometheus] section
    };
    // The selectors as they will be; with pod-template hashes, a stand-in hash.
    let entry = config.rollouts.iter().find(|r| r.name == rollout);
    // A rollout the config does not name: `[fleet] service`, as its rows are queried.
    let service = entry
        .and_then(|r| r.service.clone())
        .or_else(|| {
            let bare = rollout.rsplit('/').next().unwrap_or(rollout);
            let fleet = config.fleet.service.as_ref()?;
            Some(crate::metrics::template::fill_rollout(
                fleet.get_ref(),
                bare,
            ))
        })
        .unwrap_or_default();
    let selector = match entry.and_then(|r| r.baseline.clone()) {
        Some(baseline) => baseline,
        None => {
            let label = entry.map_or_else(
                || config.fleet.pod_hash_label.clone(),
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

    fn who() -> Identity {
        Identity {
            actor: "alice@bastion".into(),
            ssh_client: None,
        }
    }

    /// The config with `[backend] token_file` and `[prometheus] bearer_token_file` set to `token`.
    fn build_with_token(token: &Path, key: &str) -> Result<Console, ConfigError> {
        let (prom, deploy) = match key {
            "bearer_token_file" => (format!("bearer_token_file = {token:?}\n"), String::new()),
            _ => (String::new(), format!("token_file = {token:?}\n")),
        };
        let text = format!(
            "[prometheus]\nurl = \"http://127.0.0.1:9\"\n{prom}[backend]\nkind = \"http\"\n\
             url = \"http://127.0.0.1:9\"\n{deploy}[[rollouts]]\nname = \"checkout\"\n\
             baseline = 'track=\"baseline\"'\ncanary = 'track=\"canary\"'\n"
        );
        let path = Path::new("/etc/rollout-console.toml");
        let config = crate::config::parse(&text, path).expect("parses");
        from_config(
            &config,
            path,
            None,
            vec![],
            true,
            who(),
            "/tmp/audit.jsonl".into(),
        )
    }

    #[test]
    fn an_empty_secret_file_is_refused_by_name() {
        // One read_secret for the deploy API's token and Prometheus's: both refuse an empty file.
        let empty = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(empty.path(), "\n").expect("write");
        for (key, named) in [
            ("token_file", "[backend] token_file"),
            ("bearer_token_file", "bearer_token_file"),
        ] {
            let err = build_with_token(empty.path(), key)
                .err()
                .expect("an empty token file is refused")
                .to_string();
            assert!(
                err.starts_with("config error in /etc/rollout-console.toml: ")
                    && err.contains(named)
                    && err.contains("is empty"),
                "{err}"
            );
            assert!(err.contains(&empty.path().display().to_string()), "{err}");
        }
        let err = build_with_token(Path::new("/nonexistent/token"), "token_file")
            .err()
            .expect("a missing token file is refused")
            .to_string();
        assert!(
            err.contains("cannot read [backend] token_file /nonexistent/token"),
            "{err}"
        );
        std::fs::write(empty.path(), "s3cret\n").expect("write");
        let console = build_with_token(empty.path(), "token_file").expect("a token");
        assert!(console.backend.is_read_only());
        assert_eq!(
            read_secret(empty.path(), "[backend] token_file").expect("secret"),
            "s3cret"
        );
    }

    #[test]
    fn each_backend_is_read_only_when_asked_and_the_demo_too() {
        let path = Path::new("c.toml");
        for read_only in [true, false] {
            let config =
                crate::config::parse("[backend]\nkind = \"demo\"\n", path).expect("parses");
            let console = from_config(
                &config,
                path,
                None,
                vec![],
                read_only,
                who(),
                "/tmp/a.jsonl".into(),
            )
            .expect("demo");
            assert_eq!(console.backend.is_read_only(), read_only);
            assert_eq!(console.backend.controller().is_none(), read_only);
            assert_eq!(console.settings.read_only, read_only);
            let argo = "[prometheus]\nurl = \"http://127.0.0.1:9\"\n[backend]\nkind = \"argo\"\n\
                        [[rollouts]]\nname = \"checkout\"\n";
            let config = crate::config::parse(argo, path).expect("parses");
            let console = from_config(
                &config,
                path,
                None,
                vec![],
                read_only,
                who(),
                "/tmp/a.jsonl".into(),
            )
            .expect("argo");
            assert_eq!(console.backend.is_read_only(), read_only);
            assert_eq!(
                console
                    .intro
                    .iter()
                    .any(|l| l.starts_with("watch mode: read-only")),
                read_only
            );
        }
    }
}
