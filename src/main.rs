use chrono::Utc;
use clap::Parser;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use rollout_console::app::model::{EventLevel, Model};
use rollout_console::app::runtime::{EffectRunner, run_console};
use rollout_console::audit::AuditLog;
use rollout_console::cli::{Cli, Command, SimulateArgs};
use rollout_console::config::{self, ConfigError, ENV_CONFIG};
use rollout_console::setup::{self, Console, DemoSetup, Identity};
use rollout_console::sim::{SimOptions, Simulator};
use rollout_console::{paths, ui};

/// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = color_eyre::install() {
        eprintln!("rollout-console: {e}");
    }
    let _log_guard = init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rollout-console: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<ConfigError>() {
            Some(config_error) => {
                eprintln!("rollout-console: {config_error}");
                ExitCode::from(EXIT_CONFIG)
            }
            None => {
                eprintln!("rollout-console: {e:?}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Logs go to a file in the state directory, never to the terminal the UI owns.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = paths::log_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .filename_prefix("rollout-console.log")
        .build(&dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLLOUT_CONSOLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Some(guard)
}

async fn run(cli: Cli) -> color_eyre::Result<()> {
    match &cli.command {
        Some(Command::Demo(args)) => {
            let console = setup::demo(
                DemoSetup {
                    scenario: args.scenario,
                    speed: args.speed,
                    seed: args.seed.unwrap_or_else(random_seed),
                    poll_interval: args.poll_interval,
                    rollout: cli.rollout.clone().unwrap_or_else(|| "checkout".into()),
                    read_only: cli.read_only,
                    audit_path: paths::default_audit_log(),
                },
                identity(),
            );
            launch(console).await
        }
        Some(Command::Simulate(args)) => run_simulate(args, cli.rollout.clone()).await,
        None => run_configured(&cli).await,
    }
}

fn random_seed() -> u64 {
    Utc::now().timestamp_subsec_nanos() as u64 % 100_000
}

async fn run_simulate(args: &SimulateArgs, rollout: Option<String>) -> color_eyre::Result<()> {
    let seed = args.seed.unwrap_or_else(random_seed);
    let options = SimOptions {
        scenario: args.scenario,
        seed,
        speed: args.speed,
        rollout_name: rollout.unwrap_or_else(|| "checkout".into()),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| color_eyre::eyre::eyre!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Mutex::new(Simulator::new(options.clone(), Utc::now())));
    println!(
        "simulating {} ({}, seed {seed}) on http://{addr}: /metrics for Prometheus, /rollouts for the deploy API",
        options.rollout_name, options.scenario
    );
    tracing::info!(%addr, scenario = %options.scenario, seed, "simulate started");
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    rollout_console::sim::server::serve(listener, sim, shutdown).await?;
    Ok(())
}

async fn run_configured(cli: &Cli) -> color_eyre::Result<()> {
    let env_path = std::env::var_os(ENV_CONFIG).map(std::path::PathBuf::from);
    let Some(path) = config::locate(cli.config.as_deref(), env_path.as_deref())? else {
        let default = config::default_path().map_or_else(
            || "(no config directory)".into(),
            |p| p.display().to_string(),
        );
        return Err(ConfigError(format!(
            "no config found: looked at --config, ${ENV_CONFIG} and {default}.\n\
             Create one from config.example.toml, or try the built-in demo: rollout-console demo"
        ))
        .into());
    };
    let config = config::load(&path)?;
    let console = setup::from_config(
        &config,
        &path,
        cli.rollout.clone(),
        cli.read_only,
        identity(),
        paths::default_audit_log(),
    )?;
    launch(console).await
}

fn identity() -> Identity {
    let (actor, ssh_client) = paths::actor();
    Identity { actor, ssh_client }
}

async fn launch(console: Console) -> color_eyre::Result<()> {
    let Console {
        settings,
        panels,
        slos,
        backend,
        source,
        audit_path,
        intro,
    } = console;
    let mut model = Model::new(settings, panels, slos, Utc::now());
    for line in intro {
        model.push_event(EventLevel::Info, line);
    }
    tracing::info!(rollout = %model.settings.rollout_name, read_only = model.settings.read_only, source = %model.settings.source_label, "console started");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = EffectRunner {
        backend,
        source,
        audit: AuditLog::new(audit_path.clone()),
        tx,
    };
    let model = run_console(model, runner, rx, ui::Theme::from_env()).await?;
    if let Some(r) = &model.rollout {
        println!(
            "rollout-console: left {} at step {}/{} ({}%), {}. Audit log: {}",
            r.name,
            (r.step + 1).min(r.steps.len()),
            r.steps.len(),
            r.canary_weight,
            r.state.label(),
            audit_path.display()
        );
    }
    Ok(())
}
