use chrono::Utc;
use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use rollout_console::app::check::{CheckOptions, run_check};
use rollout_console::app::explain_report;
use rollout_console::audit::AuditLog;
use rollout_console::cli::{AuditArgs, Cli, Command, InitArgs, SimulateArgs};
use rollout_console::config::{self, ConfigError, ENV_CONFIG};
use rollout_console::setup::{self, Console, DemoSetup, Identity};
use rollout_console::sim::{SimOptions, Simulator};
use rollout_console::tui::run_console;
use rollout_console::{paths, ui};

/// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error (`check` adds 1 fail and 3
/// inconclusive). An audit log that cannot be read (`audit`) is a runtime failure, exit 1: the
/// config that named it was fine.
const EXIT_CONFIG: u8 = 2;
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    rollout_console::tui::memory::one_arena();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if cli.test_panic_after_first_frame {
        rollout_console::tui::PANIC_AFTER_FIRST_FRAME
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    refuse_read_only_where_it_means_nothing(&cli, &matches);
    match &cli.command {
        Some(Command::Completions(args)) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "rollout-console",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => return print_man_page(),
        _ => {}
    }
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

/// `--read-only` is not global, but clap still accepts it before any subcommand: on one that never
/// acts it would silently mean nothing. The environment variable stays harmless there.
fn refuse_read_only_where_it_means_nothing(cli: &Cli, matches: &clap::ArgMatches) {
    let name = match &cli.command {
        Some(Command::Check(_)) => "check",
        Some(Command::Explain(_)) => "explain",
        Some(Command::Init(_)) => "init",
        Some(Command::Rules(_)) => "rules",
        Some(Command::Audit(_)) => "audit",
        Some(Command::Simulate(_)) => "simulate",
        Some(Command::Completions(_)) => "completions",
        Some(Command::Man) => "man",
        Some(Command::Demo(_)) | None => return,
    };
    if matches.value_source("read_only") == Some(clap::parser::ValueSource::CommandLine) {
        let why = if name == "check" {
            "`check` never acts, so it is always read-only"
        } else {
            "it has no action keys"
        };
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--read-only does not apply to `{name}`: {why}; it is for the console and `demo`"
                ),
            )
            .exit();
    }
}

/// `man`: the manual page of the command and of each subcommand, as one roff document.
fn print_man_page() -> ExitCode {
    use std::io::Write;
    let cmd = Cli::command();
    let mut out = Vec::new();
    let mut render = || -> std::io::Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        man.render(&mut out)?;
        // clap_mangen renders one command per page: append each subcommand as a section.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = sub.get_name();
            writeln!(out, ".SH \"ROLLOUT-CONSOLE {}\"", name.to_uppercase())?;
            let sub = sub.clone().bin_name(format!("rollout-console {name}"));
            let man = clap_mangen::Man::new(sub);
            man.render_synopsis_section(&mut out)?;
            man.render_description_section(&mut out)?;
            man.render_options_section(&mut out)?;
        }
        // clap_mangen puts its apostrophe macro (.ie/.el) first; man(1) and whatis expect .TH.
        let text = String::from_utf8_lossy(&out);
        let mut seen_macro = std::collections::HashSet::new();
        // Each rendered section repeats the macro: keep its first copy.
        let mut lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                !(l.starts_with(".ie \\n(.g") || l.starts_with(".el .ds Aq"))
                    || seen_macro.insert(*l)
            })
            .collect();
        if let Some(th) = lines.iter().position(|l| l.starts_with(".TH ")) {
            let title = lines.remove(th);
            lines.insert(0, title);
        }
        std::io::stdout().write_all((lines.join("\n") + "\n").as_bytes())
    };
    match render() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rollout-console: cannot write the manual page: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to a file in the state directory, never to the terminal the UI owns.
/// Lines the log writer's queue holds before it drops (see `init_logging`).
const LOG_QUEUE_LINES: usize = 4096;

fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = paths::log_dir();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .filename_prefix("rollout-console.log")
        .build(&dir)
        .ok()?;
    // The default queue of 128,000 lines is 4 MB allocated and touched up front: a tenth of the
    // console's memory, for a log that writes a few lines a second (lossy: a burst beyond the
    // queue drops lines rather than stalling the screen).
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .finish(appender);
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
            if let Some(code) = refuse_without_a_terminal() {
                return Ok(code);
            }
            let console = setup::demo(
                DemoSetup {
                    scenario: args.sim.scenario,
                    speed: args.sim.speed,
                    service_rps: args.sim.rps,
                    seed: args.sim.seed.unwrap_or_else(random_seed),
                    poll_interval: args.poll_interval,
                    rollout: cli.rollout.clone().unwrap_or_else(|| "checkout".into()),
                    read_only: cli.watch.read_only || args.watch.read_only,
                    audit_path: paths::default_audit_log(),
                    fleet: args.fleet,
                },
                identity(),
            );
            launch(console).await.map(|()| 0)
        }
        Some(Command::Simulate(args)) => run_simulate(args, cli.rollout.clone()).await.map(|()| 0),
        Some(Command::Audit(args)) => run_audit(&cli, args),
        Some(Command::Check(args)) => {
            // `check` never acts: it is built read-only whatever the flags say.
            let (console, config, path) = configured(&cli, true, false).await?;
            // A query Prometheus cannot parse is a config error now, not a NO DATA panel later.
            setup::check_queries(&config, &path, &console.settings.rollout_name).await?;
            let (model, runner, rx) = console.start(Utc::now());
            let options = CheckOptions {
                wait: args.wait,
                timeout: args.timeout,
                json: args.json,
                override_reason: args.override_reason.clone(),
            };
            Ok(run_check(model, runner, rx, &options).await?)
        }
        Some(Command::Init(args)) => Ok(run_init(args, &cli).await),
        Some(Command::Rules(args)) => {
            let env_path = std::env::var_os(ENV_CONFIG).map(std::path::PathBuf::from);
            let Some(path) = config::locate(cli.config.as_deref(), env_path.as_deref())? else {
                return Err(ConfigError(
                    "rules: no config found: pass --config PATH (the fleet's config)".into(),
                )
                .into());
            };
            let config = config::load(&path)?;
            print!("{}", setup::rules_file(&config, &path, args.interval)?);
            Ok(0)
        }
        Some(Command::Explain(args)) => {
            let (console, config, path) = configured(&cli, true, false).await?;
            let rollout = console.settings.rollout_name.clone();
            drop(console);
            let report = setup::explain(&config, &path, &rollout, Utc::now()).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", explain_report::render_text(&report));
            }
            Ok(report.exit_code())
        }
        // Answered in `main`, before the runtime starts.
        Some(Command::Completions(_) | Command::Man) => Ok(0),
        None => {
            let (console, config, path) = configured(&cli, cli.watch.read_only, true).await?;
            // Refused before any time is spent asking Prometheus.
            if let Some(code) = refuse_without_a_terminal() {
                return Ok(code);
            }
            setup::check_queries(&config, &path, &console.settings.rollout_name).await?;
            launch(console).await.map(|()| 0)
        }
    }
}

/// The console draws on stdout and reads keys from stdin: without a TTY on both, say so in one
/// line (no report, no backtrace) and exit 2, a usage error.
fn refuse_without_a_terminal() -> Option<u8> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return None;
    }
    eprintln!(
        "rollout-console: the console needs a terminal (stdin and stdout must be a TTY); \
         for headless use, run `rollout-console check`"
    );
    Some(EXIT_CONFIG)
}

fn random_seed() -> u64 {
    Utc::now().timestamp_subsec_nanos() as u64 % 100_000
}

async fn run_simulate(args: &SimulateArgs, rollout: Option<String>) -> color_eyre::Result<()> {
    let seed = args.sim.seed.unwrap_or_else(random_seed);
    if args.fleet.is_some() && rollout.is_some() {
        color_eyre::eyre::bail!(
            "--fleet names its rollouts itself (checkout, payments, …); drop --rollout"
        );
    }
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
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    if let Some(n) = args.fleet {
        // Each member simulates its hour of history first: off the runtime's threads.
        let fleet = tokio::task::spawn_blocking(move || {
            rollout_console::sim::Fleet::new(n, &options, Utc::now())
        })
        .await?;
        println!(
            "simulating a fleet of {n} rollouts (seed {seed}) on http://{addr}: /metrics for Prometheus \
             (label rollout=\"<name>\"), /rollouts for the deploy API"
        );
        tracing::info!(%addr, fleet = n, seed, "simulate started");
        rollout_console::sim::server::serve_fleet_as(
            listener,
            fleet,
            args.instrumentation,
            shutdown,
        )
        .await?;
        return Ok(());
    }
    let sim = Arc::new(Mutex::new(Simulator::new(options.clone(), Utc::now())));
    println!(
        "simulating {} ({}, seed {seed}) on http://{addr}: /metrics for Prometheus ({} names), /rollouts for the deploy API",
        options.rollout_name, options.scenario, args.instrumentation
    );
    tracing::info!(%addr, scenario = %options.scenario, seed, "simulate started");
    rollout_console::sim::server::serve_as(listener, sim, args.instrumentation, shutdown).await?;
    Ok(())
}

/// The console a config describes. `fleet`: without `--rollout`, follow every rollout the config
/// names and the backend lists; else (`check`) exactly one: `--rollout`, the first
/// `[[rollouts]]` entry, or the one rollout the backend lists.
async fn configured(
    cli: &Cli,
    read_only: bool,
    fleet: bool,
) -> color_eyre::Result<(Console, config::Config, std::path::PathBuf)> {
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
    // Without --rollout: every rollout the backend lists (the fleet list when several).
    let mut listed = match &cli.rollout {
        Some(_) => vec![],
        None => setup::listed_rollouts(&config).await,
    };
    let mut rollout = cli.rollout.clone();
    if !fleet && rollout.is_none() {
        rollout = config.rollouts.first().map(|r| r.name.clone());
        if rollout.is_none() && listed.len() > 1 {
            return Err(ConfigError(format!(
                "the backend lists {} rollouts ({}): pass --rollout NAME, or add a [[rollouts]] \
                 entry to {}",
                listed.len(),
                listed.join(", "),
                path.display()
            ))
            .into());
        }
        rollout = rollout.or_else(|| listed.pop());
    }
    let console = setup::from_config(
        &config,
        &path,
        rollout,
        listed,
        read_only,
        identity(),
        paths::default_audit_log(),
    )?;
    Ok((console, config, path))
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
    if let Some(r) = &model.current().rollout {
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
    let records = match AuditLog::new(path.clone()).read_all() {
        Ok(records) => records,
        Err(why) => {
            eprintln!(
                "rollout-console: cannot read the audit log {why} — nothing was listed; check the \
                 file's permissions, or repair or move aside the line named (each line is one JSON \
                 receipt); `audit_log` in the config names the file"
            );
            return Ok(EXIT_FAILURE);
        }
    };
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

/// `init`: write a config from what the user's Prometheus has, and show every query of it run
/// once. Exit 0 when they all answer with data, 1 otherwise (the file is written either way),
/// 2 when the file exists without --force or an option is wrong.
async fn run_init(args: &InitArgs, cli: &Cli) -> u8 {
    let rollout = cli.rollout.clone();
    // Where the console will look: --output, else --config, else the default path.
    let output = args.output.clone().or_else(|| cli.config.clone());
    let Some(output) = output.or_else(config::default_path) else {
        eprintln!("rollout-console: init: no config directory here; pass --output PATH");
        return EXIT_CONFIG;
    };
    let request = setup::InitRequest {
        source: rollout_console::app::init::render::Source {
            url: args.prometheus.clone(),
            bearer_token_file: args.bearer_token_file.clone(),
            basic_auth: args
                .basic_auth_user
                .clone()
                .zip(args.basic_auth_password_file.clone()),
            ca_file: args.ca_file.clone(),
            headers: args.headers.clone(),
        },
        rollout,
        service: args.service.clone(),
        preset: args.preset.clone(),
        backend_url: args.backend.clone(),
        output,
        force: args.force,
    };
    match setup::init(&request, Utc::now()).await {
        Ok(outcome) => {
            for line in &outcome.found {
                eprintln!("init: {line}");
            }
            println!("{}", outcome.text);
            print!("{}", explain_report::render_text(&outcome.report));
            let path = outcome.path.display();
            println!(
                "\nwrote {path}. Next: rollout-console explain --config {path}, then rollout-console --config {path}"
            );
            outcome.report.exit_code()
        }
        Err(e) => {
            eprintln!("rollout-console: init: {e}");
            e.exit_code()
        }
    }
}
