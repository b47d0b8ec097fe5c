//! `rollout-console init`: read the user's Prometheus (its metric names, then the series of the
//! recognised instrumentation), propose a config (`app::init`), load it back through the config
//! parser, run every query of it once (`explain`), and write it — never over an existing file
//! without `--force`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};

use crate::app::explain_report::ExplainReport;
use crate::app::init::discover::{self, Labels, Tracks};
use crate::app::init::render::{self, Proposal, Source};
use crate::config::presets::{self, Preset};
use crate::config::{self, PrometheusConfig};
use crate::metrics::client::PrometheusClient;

/// How far back the metric names and series are looked for.
const LOOKBACK_HOURS: i64 = 1;
/// Series read to learn the labels: enough to see every track of a service.
const SAMPLE_SERIES: usize = 5_000;

/// What `init` was asked for.
#[derive(Debug, Clone)]
pub struct InitRequest {
    pub source: Source,
    pub rollout: Option<String>,
    pub service: Option<String>,
    pub preset: Option<String>,
    /// The deploy API's URL, for `[backend] kind = "http"`.
    pub backend_url: Option<String>,
    pub output: PathBuf,
    pub force: bool,
}

/// What `init` did: the config it wrote, and the explain report of it.
#[derive(Debug)]
pub struct InitOutcome {
    pub path: PathBuf,
    pub text: String,
    /// What was found, in words, for the terminal.
    pub found: Vec<String>,
    pub report: ExplainReport,
}

/// Why `init` stopped; `Display` is the words shown.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Exit 2: the user's own input.
    #[error("{0}")]
    Usage(String),
    /// Exit 1: Prometheus could not be read, or has nothing to build a config from.
    #[error("{0}")]
    Source(String),
}

impl InitError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Source(_) => 1,
        }
    }
}

/// Run `init` at `now`.
pub async fn init(req: &InitRequest, now: DateTime<Utc>) -> Result<InitOutcome, InitError> {
    if req.output.exists() && !req.force {
        return Err(InitError::Usage(format!(
            "{} exists: init never writes over a config; pass --force to replace it, or --output PATH",
            req.output.display()
        )));
    }
    let prometheus = prometheus_config(&req.source);
    let client = PrometheusClient::new(&prometheus).map_err(InitError::Usage)?;
    let range = (now - Span::hours(LOOKBACK_HOURS), now);
    let names = client
        .label_values("__name__", None, range, 0)
        .await
        .map_err(|e| InitError::Source(format!("cannot read the metric names: {e}")))?;
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = presets::recognise(&name_refs);
    let preset = choose(&found, req.preset.as_deref(), names.len())?;
    let mut words = vec![format!(
        "{} metric names in {}; recognised: {}",
        names.len(),
        client.url(),
        found.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
    )];

    let probe = preset.recognise_by.first().copied().unwrap_or_default();
    let all = series(&client, &format!("{{__name__=\"{probe}\"}}"), range).await?;
    let service = discover::find_service(&all, req.rollout.as_deref(), req.service.as_deref())
        .map_err(|e| InitError::Source(format!("{probe}: {e}")))?;
    let of_service = series(
        &client,
        &format!("{{__name__=\"{probe}\", {}}}", service.selector),
        range,
    )
    .await?;
    if of_service.is_empty() {
        return Err(InitError::Source(format!(
            "no series of {probe} match {} in the last {LOOKBACK_HOURS}h",
            service.selector
        )));
    }
    let tracks = tracks_for(preset, &of_service);
    words.push(format!("service: {} ({})", service.selector, service.why));
    words.push(format!("tracks: {}", tracks_words(&tracks)));
    let rollout = req
        .rollout
        .clone()
        .or_else(|| service_value(&service.selector))
        .unwrap_or_else(|| "my-service".into());

    let proposal = Proposal {
        source: req.source.clone(),
        rollout: rollout.clone(),
        preset: preset.name.to_string(),
        preset_why: format!("{}\n# (recognised by {probe})", preset.about),
        also_found: found
            .iter()
            .filter(|p| p.name != preset.name)
            .map(|p| p.name.to_string())
            .collect(),
        service,
        tracks,
        backend_url: req.backend_url.clone(),
    };
    let text = render::config_text(&proposal, &now.to_rfc3339_opts(SecondsFormat::Secs, true));
    // The text must be a config the console loads: a bug here is not the user's to find later.
    let config = config::parse(&text, &req.output).map_err(|e| {
        InitError::Source(format!("the proposed config does not load (a bug): {e}"))
    })?;
    let report = crate::setup::explain(&config, &req.output, &rollout, now)
        .await
        .map_err(|e| InitError::Source(e.to_string()))?;
    write(&req.output, &text)?;
    Ok(InitOutcome {
        path: req.output.clone(),
        text,
        found: words,
        report,
    })
}

/// `[prometheus]` as the written config will have it.
fn prometheus_config(source: &Source) -> PrometheusConfig {
    let mut c = PrometheusConfig::for_url(source.url.clone());
    c.bearer_token_file = source.bearer_token_file.clone();
    c.basic_auth = source
        .basic_auth
        .as_ref()
        .map(|(username, password_file)| config::BasicAuth {
            username: username.clone(),
            password_file: password_file.clone(),
        });
    c.ca_file = source.ca_file.clone();
    c.headers = source.headers.iter().cloned().collect();
    c
}

/// The preset asked for, else the first found; an error lists what was looked for.
fn choose(
    found: &[&'static Preset],
    asked: Option<&str>,
    names: usize,
) -> Result<&'static Preset, InitError> {
    if let Some(asked) = asked {
        let Some(preset) = presets::by_name(asked) else {
            return Err(InitError::Usage(format!(
                "--preset {asked:?}: no such preset; the presets are {}",
                presets::ALL
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if !found.iter().any(|p| p.name == preset.name) {
            return Err(InitError::Source(format!(
                "--preset {asked}: this Prometheus has no {} series",
                preset.recognise_by.join(" and ")
            )));
        }
        return Ok(preset);
    }
    found.first().copied().ok_or_else(|| {
        let looked_for: Vec<String> = presets::ALL
            .iter()
            .map(|p| format!("{} ({})", p.name, p.recognise_by.join(", ")))
            .collect();
        InitError::Source(format!(
            "none of {names} metric names is an instrumentation init knows; it looked for:\n  {}\n\
             Write the [[metrics]] yourself from config.example.toml, then run `rollout-console explain`",
            looked_for.join("\n  ")
        ))
    })
}

async fn series(
    client: &PrometheusClient,
    selector: &str,
    range: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Labels>, InitError> {
    client
        .series(selector, range, SAMPLE_SERIES)
        .await
        .map_err(|e| InitError::Source(format!("cannot read the series {selector}: {e}")))
}

/// The tracks: a preset's own matchers when they are complete (ingress-nginx's `canary`
/// label); else what the series say, the preset's track label first.
fn tracks_for(preset: &Preset, series: &[Labels]) -> Tracks {
    match preset.tracks {
        presets::Tracks::Labels { baseline, canary } if !baseline.contains('<') => {
            Tracks::Matchers {
                baseline: baseline.to_string(),
                canary: canary.to_string(),
                why: format!("{}'s own matchers", preset.name),
            }
        }
        presets::Tracks::Labels { baseline, .. } => {
            let label = baseline.split(['=', '!', '~']).next().unwrap_or_default();
            discover::find_tracks(series, &[label.trim()])
        }
        presets::Tracks::PodHash => discover::find_tracks(series, &[]),
    }
}

fn tracks_words(t: &Tracks) -> String {
    match t {
        Tracks::PodHash { label } => format!("the pod-template hashes ({label})"),
        Tracks::Label {
            label,
            baseline,
            canary,
            sure,
        } => format!(
            "{label}=\"{baseline}\" and {label}=\"{canary}\"{}",
            if *sure {
                ""
            } else {
                " (check which is the canary)"
            }
        ),
        Tracks::OneValue { label, baseline } => {
            format!("{label}=\"{baseline}\" now; the canary will be any other value")
        }
        Tracks::Matchers {
            baseline, canary, ..
        } => format!("{baseline} and {canary}"),
        Tracks::Unknown { looked_for } => format!(
            "nothing tells them apart (looked for {}): set baseline and canary in the file",
            looked_for.join(", ")
        ),
    }
}

/// `app="checkout"` → `checkout`.
fn service_value(selector: &str) -> Option<String> {
    let (_, value) = selector.split_once("=\"")?;
    Some(value.trim_end_matches('"').to_string()).filter(|v| !v.is_empty() && !v.contains('"'))
}

fn write(path: &Path, text: &str) -> Result<(), InitError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            InitError::Usage(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    std::fs::write(path, text)
        .map_err(|e| InitError::Usage(format!("cannot write {}: {e}", path.display())))
}
