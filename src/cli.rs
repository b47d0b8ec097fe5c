//! The command line (clap derive). `--help` on each command says what it does.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::sim::Scenario;

#[derive(Debug, Parser)]
#[command(
    name = "rollout-console",
    version,
    about = "Watch and drive a canary rollout from the terminal: baseline vs canary, error budgets, phases.",
    long_about = "Watch and drive a canary rollout from the terminal.\n\n\
        Shows baseline vs canary for each gated metric with its verdict, the service's error budgets and \
        burn rates, and the phase timeline; promote, pause/resume and roll back behind confirmation \
        prompts, each written to an audit log.\n\n\
        Without a command, runs against the configured sources (see config.example.toml).\n\
        Try it with no setup at all:  rollout-console demo",
    after_help = crate::app::keymap::cli_keys_text()
)]
pub struct Cli {
    /// Config file (TOML). Default: $ROLLOUT_CONSOLE_CONFIG, then ~/.config/rollout-console/config.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    // Not global: `check` never acts and `audit` / `simulate` have no keys, so only the console
    // and `demo` take it.
    #[command(flatten)]
    pub watch: ReadOnlyArg,

    /// The rollout: the one to show (default: the config's first [[rollouts]] entry, else the
    /// http backend's only rollout; demo and simulate: checkout); for `audit`, only its receipts.
    #[arg(long, global = true, value_name = "NAME")]
    pub rollout: Option<String>,

    /// Test-only: panic right after the first frame, so the end-to-end tests can prove the terminal
    /// is restored. A hidden flag rather than an environment variable (which any user's shell could
    /// carry in unseen) or `cfg(debug_assertions)` (CI runs the tests in release).
    #[arg(long, global = true, hide = true)]
    pub test_panic_after_first_frame: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--read-only` / `--watch`, for the commands with action keys (the console and `demo`).
#[derive(Debug, Args)]
pub struct ReadOnlyArg {
    /// Watch mode: nothing can be changed; action keys are disabled. Also ROLLOUT_CONSOLE_READ_ONLY=1
    /// or `read_only = true` in the config.
    #[arg(
        long,
        visible_alias = "watch",
        env = "ROLLOUT_CONSOLE_READ_ONLY",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the console against the built-in simulator: no Prometheus, no cluster, no config.
    Demo(DemoArgs),
    /// Serve the simulator over HTTP: /metrics for Prometheus to scrape, and the deploy API.
    Simulate(SimulateArgs),
    /// Evaluate the gates once, headless, for CI: exit 0 pass (or the rollout already completed),
    /// 1 fail, 3 inconclusive, 2 usage or config error.
    Check(CheckArgs),
    /// Run every query once and say why one returns nothing: exit 0 all answer with data, 1 not,
    /// 2 usage or config error.
    ///
    /// Each metric's query and raw counters for the rollout's baseline and canary, and each SLO
    /// window's query, as an instant query now: the PromQL as sent, the value and number of
    /// series, or the engine's error verbatim. For a query that returns nothing: a metric name
    /// with no series (and the nearest real names), the matcher no series satisfies (and the
    /// values its label has), a label the series lack, or too few samples in the window.
    Explain(ExplainArgs),
    /// Write a config from what your Prometheus has: recognises the instrumentation (a preset),
    /// the service's labels and what tells baseline from canary, runs every query once, and
    /// writes the file (never over one without --force).
    Init(InitArgs),
    /// Print the recording rules of a grouped fleet, for Prometheus to evaluate once for every
    /// console.
    ///
    /// Each metric's query and each SLO window over every rollout ([fleet] group_by and
    /// service), so that a poll reads one recorded sample per rollout and track instead of
    /// every sample of each rate window. Load the file (rule_files), then set `recorded = true`
    /// in [fleet]; write it again when a query changes.
    Rules(RulesArgs),
    /// List the receipts of actions from the audit log.
    Audit(AuditArgs),
    /// Print a shell completion script, e.g. `rollout-console completions bash >
    /// ~/.local/share/bash-completion/completions/rollout-console`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `rollout-console man | man -l -`.
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// How often Prometheus evaluates the metrics' rules (default: the config's poll_interval).
    /// The SLO windows' rules are evaluated every half `slo_refresh` (never more often).
    #[arg(long, value_parser = crate::domain::format::parse_duration)]
    pub interval: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Print exactly one JSON object instead of the text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only receipts younger than this, e.g. 24h or 7d.
    #[arg(long, value_parser = crate::domain::format::parse_duration)]
    pub since: Option<std::time::Duration>,

    /// Print the matching receipts as JSON lines, exactly as stored.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The Prometheus-compatible engine to read (may carry a path prefix, e.g. Mimir's
    /// https://mimir.example/prometheus).
    #[arg(long, value_name = "URL")]
    pub prometheus: String,

    /// Label matchers of the service's series, e.g. 'app="checkout"' (default: the label whose
    /// value is --rollout).
    #[arg(long, value_name = "SELECTOR")]
    pub service: Option<String>,

    /// The preset to use when several instrumentations are found (default: the first found).
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,

    /// The deploy API (`[backend] kind = "http"`, assets/deploy-api.md); default: an argo
    /// backend when the tracks are pod-template hashes, else none.
    #[arg(long, value_name = "URL")]
    pub backend: Option<String>,

    /// Where to write the config (default: --config, else the path the console reads without
    /// --config).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Overwrite --output if it exists.
    #[arg(long)]
    pub force: bool,

    /// A file holding a bearer token for Prometheus (never printed).
    #[arg(long, value_name = "PATH")]
    pub bearer_token_file: Option<PathBuf>,

    /// Basic auth: the user name (with --basic-auth-password-file).
    #[arg(long, value_name = "NAME", requires = "basic_auth_password_file")]
    pub basic_auth_user: Option<String>,

    /// Basic auth: a file holding the password (never printed).
    #[arg(long, value_name = "PATH", requires = "basic_auth_user")]
    pub basic_auth_password_file: Option<PathBuf>,

    /// A PEM file of CA certificates to trust besides the system's.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// An HTTP header for every request, e.g. X-Scope-OrgID=team-a (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!(
            "expected NAME=VALUE, e.g. X-Scope-OrgID=team-a; got {text:?}"
        )),
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print exactly one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Poll until the current step's hold is satisfied or the rollout completed (exit 0), or a
    /// rollback-severity gate fails (exit 1); give up after --timeout (exit 3).
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits at most (only with --wait).
    #[arg(long, default_value = "30m", requires = "wait", value_parser = crate::domain::format::parse_duration)]
    pub timeout: std::time::Duration,

    /// Pass despite an error budget under [policy] min_budget_to_promote; recorded in the audit
    /// log. It never passes a failing gate.
    #[arg(long, value_name = "TEXT")]
    pub override_reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on, e.g. 127.0.0.1:9100.
    #[arg(long, value_name = "ADDR")]
    pub listen: std::net::SocketAddr,

    /// Serve N independent rollouts (1 to 200) instead of one: checkout, payments, search, … then
    /// svc-K, each with its own seed from --seed and a fixed mix of scenarios (mostly healthy; a
    /// latency regression, an error spike, a slow burn, one paused by a person, one completed),
    /// which replaces --scenario. /metrics labels each one's series rollout="<name>".
    #[arg(long, value_name = "N", value_parser = parse_fleet)]
    pub fleet: Option<usize>,

    /// Export /metrics under this instrumentation's metric and label names (and units), the
    /// same traffic each way: prometheus (default: http_requests_total,
    /// http_request_duration_seconds), opentelemetry, micrometer, istio, linkerd, nginx-ingress,
    /// envoy or traefik; a metric preset of that name reads it.
    #[arg(long, value_name = "NAME", default_value = "prometheus", value_parser = crate::sim::Instrumentation::parse)]
    pub instrumentation: crate::sim::Instrumentation,

    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub sim: SimArgs,

    #[command(flatten)]
    pub watch: ReadOnlyArg,

    /// How often the console polls the simulator.
    #[arg(long, default_value = "2s", value_parser = crate::domain::format::parse_duration)]
    pub poll_interval: std::time::Duration,

    /// Follow N simulated rollouts (1 to 200, a mix of scenarios) on the fleet list, sorted by
    /// what needs a human; Enter opens one.
    #[arg(long, value_name = "N", value_parser = parse_fleet)]
    pub fleet: Option<usize>,
}

/// The simulator's knobs, shared by `demo` and `simulate`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// What the canary does: healthy, latency-regression, error-spike, slow-burn or mild-latency.
    #[arg(long, default_value = "healthy", value_parser = parse_scenario)]
    pub scenario: Scenario,

    /// Divide the real-world hold times (10m, 10m, 30m) by this: 20 runs the rollout in ~2.5 minutes.
    #[arg(long, default_value_t = 20.0, value_parser = parse_speed)]
    pub speed: f64,

    /// Seed for the simulator's noise; the same seed replays the same numbers. Default: random (shown).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Requests per second across both tracks (the load drifts ±30% around it); more than 0, at
    /// most 100000. E.g. 4000 at a 1s poll gives each poll the traffic 400 gives a 10s poll.
    #[arg(long, value_name = "N", default_value_t = crate::sim::SERVICE_RPS, value_parser = parse_rps)]
    pub rps: f64,
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    s.parse()
}

fn parse_fleet(s: &str) -> Result<usize, String> {
    let max = crate::sim::fleet::MAX_FLEET;
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "a fleet is 1 to {max} rollouts, got {s:?}; e.g. --fleet 50"
        )),
    }
}

fn parse_rps(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of requests per second (e.g. 400)"))?;
    if v.is_finite() && v > 0.0 && v <= 100_000.0 {
        Ok(v)
    } else {
        Err(format!(
            "requests per second must be more than 0 and at most 100000, got {v}"
        ))
    }
}

fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number (e.g. 20)"))?;
    if v.is_finite() && v > 0.0 && v <= 10_000.0 {
        Ok(v)
    } else {
        Err(format!(
            "speed must be more than 0 and at most 10000, got {v}"
        ))
    }
}
