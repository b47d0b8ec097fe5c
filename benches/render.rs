//! Figures for drawing, printed (not asserted): run with `cargo bench --bench render`.
//! One frame of the rollout screen at 160x48 and at 80x24 with 8 metric panels × 2 tracks × 360
//! points each (a 15-minute chart window at a 2.5 s poll), drawn into ratatui's TestBackend: the
//! view functions' cost and the buffer diff, without a real terminal's I/O.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use rollout_console::app::model::{ChartWindow, Model, Settings};
use rollout_console::app::{Effect, Msg, update};
use rollout_console::setup::demo_panels;
use rollout_console::sim::source::answer;
use rollout_console::sim::{Scenario, SimOptions, Simulator};
use rollout_console::ui::{self, Theme};

const POLL: Duration = Duration::from_millis(2500);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .unwrap_or_default()
}

/// Answers the fetches an update asked for from the simulator, as the runner would.
fn run(model: &mut Model, sim: &mut Simulator, now: DateTime<Utc>, effects: Vec<Effect>) {
    for effect in effects {
        let msg = match effect {
            Effect::FetchRollout { generation, .. } => Msg::RolloutFetched {
                generation,
                at: now,
                result: Ok(sim.rollout().clone()),
            },
            Effect::FetchMetrics {
                generation,
                request,
            } => Msg::MetricsFetched {
                generation,
                at: now,
                result: answer(sim, &request),
            },
            _ => continue,
        };
        let more = update(model, msg);
        run(model, sim, now, more);
    }
}

/// A console 15 minutes into a healthy rollout, with the demo's 4 metrics twice (8 panels).
fn busy_model() -> Model {
    let settings = Settings {
        rollout_name: "checkout".into(),
        read_only: false,
        poll_interval: POLL,
        min_budget_to_promote_pct: 10.0,
        actor: "alice@bastion".into(),
        ssh_client: None,
        source_label: "simulator (bench)".into(),
        audit_path: "/tmp/rollout-console-bench-audit.jsonl".into(),
    };
    let mut panels = demo_panels::metric_panels();
    let copies: Vec<_> = panels
        .iter()
        .cloned()
        .map(|mut p| {
            p.def.name = format!("{} (eu)", p.def.name);
            p
        })
        .collect();
    panels.extend(copies);
    let start = t0();
    let mut sim = Simulator::new(
        SimOptions {
            scenario: Scenario::Healthy,
            seed: 7,
            ..SimOptions::default()
        },
        start,
    );
    let mut model = Model::new(settings, panels, demo_panels::slo_panels(), start);
    model.chart_window = ChartWindow::M15;
    let mut now = start;
    let end = start + chrono::Duration::seconds(900);
    while now < end {
        now += chrono::Duration::milliseconds(2500);
        sim.advance_to(now);
        let effects = update(&mut model, Msg::Tick(now));
        run(&mut model, &mut sim, now, effects);
    }
    // The frame: 360 points a track (the step's range may reach further back).
    for p in &mut model.current_mut().panels {
        for track in [&mut p.series.baseline, &mut p.series.canary] {
            let extra = track.points.len().saturating_sub(360);
            track.points.drain(..extra);
        }
    }
    model
}

fn frame_times(model: &Model, width: u16, height: u16, frames: usize) -> Vec<Duration> {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => panic!("a test terminal: {e}"),
    };
    let theme = Theme { color: true };
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames {
        let start = Instant::now();
        if let Err(e) = terminal.draw(|f| ui::draw(f, model, &theme)) {
            panic!("draw: {e}");
        }
        times.push(start.elapsed());
    }
    times.sort();
    times
}

fn report(what: &str, times: &[Duration]) {
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "{what:<44} mean {:>7.1} µs   p50 {:>7.1} µs   p99 {:>7.1} µs   ({} frames)",
        mean.as_secs_f64() * 1e6,
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        times.len()
    );
}

fn main() {
    let model = busy_model();
    let points: Vec<(usize, usize)> = model
        .current()
        .panels
        .iter()
        .map(|p| (p.series.baseline.points.len(), p.series.canary.points.len()))
        .collect();
    println!(
        "rollout screen: {} panels, points per track (baseline, canary): {:?}",
        points.len(),
        points
    );
    // Warm-up, then the measured frames.
    frame_times(&model, 160, 48, 50);
    report(
        "one frame, rollout screen 160x48",
        &frame_times(&model, 160, 48, 2000),
    );
    report(
        "one frame, rollout screen 80x24",
        &frame_times(&model, 80, 24, 2000),
    );
}
