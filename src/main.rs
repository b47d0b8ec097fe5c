use chrono::Utc;
use clap::Parser;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use rollout_console::app::model::Model;
use rollout_console::app::runtime::run_console;
use rollout_console::audit::AuditLog;
use rollout_console::cli::{AuditArgs, CheckArgs, Cli, Command, SimulateArgs};
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
        Ok(code) => ExitCode::from(code),
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

/// Returns the process exit code.
async fn run(cli: Cli) -> color_eyre::Result<u8> {
    match &cli.command {
        Some(Command::Demo(args)) => {
            let console = setup::demo(
                DemoSetup {
                    scenario: args.sim.scenario,
                    speed: args.sim.speed,
                    service_rps: args.sim.rps,
                    seed: args.sim.seed.unwrap_or_else(random_seed),
                    poll_interval: args.poll_interval,
                    rollout: cli.rollout.clone().unwrap_or_else(|| "checkout".into()),
                    read_only: cli.read_only,
                    audit_path: paths::default_audit_log(),
                },
                identity(),
            );
            launch(console).await.map(|()| 0)
        }
        Some(Command::Simulate(args)) => run_simulate(args, cli.rollout.clone()).await.map(|()| 0),
        Some(Command::Audit(args)) => run_audit(&cli, args),
        Some(Command::Check(args)) => {
            // `check` never acts: it is built read-only whatever the flags say.
            let console = configured(&cli, true)?;
            run_check(console, args).await
        }
        None => {
            let console = configured(&cli, cli.read_only)?;
            launch(console).await.map(|()| 0)
        }
    }
}

fn random_seed() -> u64 {
    Utc::now().timestamp_subsec_nanos() as u64 % 100_000
}

async fn run_simulate(args: &SimulateArgs, rollout: Option<String>) -> color_eyre::Result<()> {
    let seed = args.sim.seed.unwrap_or_else(random_seed);
    let options = SimOptions {
        scenario: args.sim.scenario,
        seed,
        speed: args.sim.speed,
        rollout_name: rollout.unwrap_or_else(|| "checkout".into()),
        service_rps: args.sim.rps,
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

fn configured(cli: &Cli, read_only: bool) -> color_eyre::Result<Console> {
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
        read_only,
        identity(),
        paths::default_audit_log(),
    )?;
    Ok(console)
}

/// `check`: poll through the same update loop as the TUI, then report; with --wait, until the
/// hold is satisfied, a rollback-severity gate fails, or the timeout.
async fn run_check(console: Console, args: &CheckArgs) -> color_eyre::Result<u8> {
    use rollout_console::app::check::{render_human, report, rollback_advised};
    use rollout_console::app::{Effect, Msg, update};
    let poll = console.settings.poll_interval;
    // The same model and effect runner as the TUI (timeouts, error wording); `check` never acts.
    let (mut model, runner, mut rx) = console.start(Utc::now());
    let started = std::time::Instant::now();
    loop {
        // Read the rollout first, so the metrics range covers the whole current step.
        for phase in 0..2 {
            model.polls = Default::default();
            let mut waiting = 0;
            for effect in update(&mut model, Msg::Tick(Utc::now())) {
                let wanted = matches!(
                    (&effect, phase),
                    (Effect::FetchRollout { .. }, 0) | (Effect::FetchMetrics { .. }, 1)
                );
                if wanted {
                    runner.spawn(effect);
                    waiting += 1;
                }
            }
            while waiting > 0 {
                let Some(msg) = rx.recv().await else { break };
                update(&mut model, msg);
                waiting -= 1;
            }
        }
        let mut r = report(&model, args.override_reason.as_deref());
        let done = !args.wait
            || r.ready_to_promote
            || rollback_advised(&r)
            || r.verdict == rollout_console::app::check::Overall::Completed;
        let timed_out = args.wait && !done && started.elapsed() >= args.timeout;
        if timed_out {
            r.summary.push(format!(
                "timed out after {} waiting for the hold",
                humantime::format_duration(args.timeout)
            ));
            r.verdict = rollout_console::app::check::Overall::Inconclusive;
            r.exit_code = r.verdict.exit_code();
        }
        if done || timed_out {
            if !r.policy.is_empty() && r.override_reason.is_some() {
                record_override(&r, runner.audit.path(), &model)?;
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", render_human(&r));
            }
            return Ok(r.exit_code);
        }
        let why = r
            .readiness
            .first()
            .or(r.summary.first())
            .cloned()
            .unwrap_or_default();
        eprintln!("check: waiting ({why})");
        tokio::time::sleep(poll).await;
    }
}

/// A budget-policy override from CI goes to the audit log like any action.
fn record_override(
    r: &rollout_console::app::check::CheckReport,
    path: &std::path::Path,
    model: &Model,
) -> color_eyre::Result<()> {
    use rollout_console::audit::{AuditRecord, VerdictRecord};
    let record = AuditRecord {
        id: None,
        resolves: None,
        time: Utc::now(),
        actor: model.settings.actor.clone(),
        ssh_client: model.settings.ssh_client.clone(),
        rollout: r.rollout.clone(),
        action: rollout_console::audit::GATE_OVERRIDE.into(),
        operation: rollout_console::audit::GATE_OVERRIDE.into(),
        from_step: r.step.unwrap_or(0),
        from_weight: r.canary_weight.unwrap_or(0),
        to_step: None,
        to_weight: None,
        verdicts: r
            .metrics
            .iter()
            .map(|m| VerdictRecord {
                metric: m.name.clone(),
                verdict: format!("{:?}", m.verdict).to_lowercase(),
                baseline: m.baseline,
                canary: m.canary,
                threshold: m.threshold,
                reason: m.reasons.join("; "),
                sequential: m.sequential.clone(),
            })
            .collect(),
        override_reason: r.override_reason.clone(),
        state_unknown: None,
        result: format!("{:?}", r.verdict).to_lowercase(),
        message: Some(r.policy.join("; ")),
        response: None,
    };
    AuditLog::new(path.to_path_buf())
        .append(&record)
        .map_err(|e| color_eyre::eyre::eyre!("cannot write the audit log {}: {e}", path.display()))
}

fn identity() -> Identity {
    let (actor, ssh_client) = paths::actor();
    Identity { actor, ssh_client }
}

async fn launch(console: Console) -> color_eyre::Result<()> {
    let audit_path = console.audit_path.clone();
    let (model, runner, rx) = console.start(Utc::now());
    tracing::info!(rollout = %model.settings.rollout_name, read_only = model.settings.read_only, source = %model.settings.source_label, "console started");
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

/// `audit`: the receipts from the audit log (the config's `audit_log` when a config is found).
fn run_audit(cli: &Cli, args: &AuditArgs) -> color_eyre::Result<u8> {
    let env_path = std::env::var_os(ENV_CONFIG).map(std::path::PathBuf::from);
    let path = match config::locate(cli.config.as_deref(), env_path.as_deref())? {
        Some(p) => config::load(&p)?
            .audit_log
            .unwrap_or_else(paths::default_audit_log),
        None => paths::default_audit_log(),
    };
    let records = AuditLog::new(path.clone())
        .read_all()
        .map_err(ConfigError)?;
    let selected =
        rollout_console::audit::select(&records, cli.rollout.as_deref(), args.since, Utc::now());
    if args.json {
        for r in &selected {
            println!("{}", serde_json::to_string(r)?);
        }
    } else if selected.is_empty() {
        eprintln!("no receipts in {} for that selection", path.display());
    } else {
        print!("{}", rollout_console::audit::render_table(&selected));
    }
    Ok(0)
}
