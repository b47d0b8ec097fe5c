//! The terminal front end: owns the terminal, turns key presses, resizes, ticks and signals into
//! `Msg`s for `update`, hands the resulting effects to the `EffectRunner`, and draws the view
//! when anything changed: at most once per frame interval after a key, at most twice a second
//! after answers and ticks alone.

pub mod guard;
pub mod keys;
pub mod memory;

use chrono::Utc;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

pub use guard::TerminalGuard;

use crate::app::runner::EffectRunner;
use crate::app::update::draw_waits_for_tick;
use crate::app::{Model, Msg, update};
use crate::ui::{self, Theme};

/// After a key press or a resize: the screen answers the hand at once.
const FRAME_INTERVAL: Duration = Duration::from_millis(33);
/// After answers and ticks only: a fleet's answers arrive several a second, spread out, and
/// drawing each cost a fifth of an idle console's CPU; on a 5 s poll half a second is unseen.
const BACKGROUND_FRAME_INTERVAL: Duration = Duration::from_millis(500);
const TICK_INTERVAL: Duration = Duration::from_secs(1);
/// How often freed memory is given back (see `memory`).
const TRIM_INTERVAL: Duration = Duration::from_secs(30);

/// Set by the hidden `--test-panic-after-first-frame` flag (see `cli::Cli`), for the tests only:
/// a flag a user would have to type, not an environment variable that could leak into a session.
pub static PANIC_AFTER_FIRST_FRAME: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn frame_interval(urgent: bool) -> Duration {
    if urgent {
        FRAME_INTERVAL
    } else {
        BACKGROUND_FRAME_INTERVAL
    }
}

/// Run the interactive console until the user quits or a signal arrives.
pub async fn run_console(
    mut model: Model,
    runner: EffectRunner,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    theme: Theme,
) -> color_eyre::Result<Model> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        color_eyre::eyre::bail!(
            "the console needs an interactive terminal (stdin and stdout must be a TTY); \
             over SSH use `ssh -t`, and in CI use `rollout-console check`"
        );
    }
    // try_init installs a panic hook that restores the terminal before the report prints.
    let mut terminal = ratatui::try_init()?;
    let _guard = TerminalGuard;
    let mut terminal_events = EventStream::new();
    if let Ok(size) = terminal.size() {
        update(&mut model, Msg::Resize(size.width, size.height));
    }
    let mut ticks = tokio::time::interval(TICK_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // Lets the end-to-end tests prove the terminal is restored on a panic (hidden CLI flag).
    let panic_for_test = PANIC_AFTER_FIRST_FRAME.load(std::sync::atomic::Ordering::Relaxed);

    let mut urgent = true;
    let mut trimmed = Instant::now();
    loop {
        let frame_due = last_draw.map_or(Instant::now(), |t| t + frame_interval(urgent));
        let mut batch = Vec::new();
        tokio::select! {
            maybe = terminal_events.next() => {
                urgent = true;
                match maybe {
                    Some(Ok(TermEvent::Key(key))) => batch.extend(keys::map_key(&model, key)),
                    Some(Ok(TermEvent::Resize(w, h))) => batch.push(Msg::Resize(w, h)),
                    Some(Ok(_)) => {}
                    // The terminal is gone (SSH dropped): leave cleanly.
                    Some(Err(_)) | None => batch.push(Msg::Quit),
                }
            }
            Some(msg) = rx.recv() => batch.push(msg),
            _ = ticks.tick() => batch.push(Msg::Tick(Utc::now())),
            _ = sigterm.recv() => batch.push(Msg::Quit),
            _ = sighup.recv() => batch.push(Msg::Quit),
            _ = tokio::time::sleep_until(frame_due), if dirty => {}
        }
        while let Ok(msg) = rx.try_recv() {
            batch.push(msg);
        }
        for msg in batch {
            dirty |= !draw_waits_for_tick(&model, &msg);
            for effect in update(&mut model, msg) {
                runner.spawn(effect);
            }
        }
        if model.quit {
            break;
        }
        if trimmed.elapsed() >= TRIM_INTERVAL {
            memory::give_back_freed();
            trimmed = Instant::now();
        }
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= frame_interval(urgent)) {
            terminal.draw(|frame| ui::draw(frame, &model, &theme))?;
            last_draw = Some(Instant::now());
            let last = ui::overlay_max_scroll(&model, model.screen);
            if last != model.overlay_last_scroll {
                update(&mut model, Msg::OverlayMeasured(last));
            }
            dirty = false;
            urgent = false;
            if panic_for_test {
                panic!("--test-panic-after-first-frame: panicking after the first frame");
            }
        }
    }
    Ok(model)
}
