//! Figures for drawing, printed (not asserted): run with `cargo bench --bench render`.
//! One frame of the rollout screen at 160x48 and at 80x24 with 8 metric panels × 2 tracks × 360
//! points each (a 15-minute chart window at a 2.5 s poll), and one frame of the fleet list of 50
//! rollouts (`simulate --fleet 50`'s mix of states, each with its verdicts, SLOs and 360 points a
//! track), drawn into ratatui's TestBackend: the view functions' cost and the buffer diff,
//! without a real terminal's I/O.

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
                ..
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

fn settings() -> Settings {
    Settings {
        rollout_name: "checkout".into(),
        read_only: false,
        poll_interval: POLL,
        min_budget_to_promote_pct: 10.0,
        actor: "alice@bastion".into(),
        ssh_client: None,
        source_label: "simulator (bench)".into(),
        audit_path: "/tmp/rollout-console-bench-audit.jsonl".into(),
    }
}

/// Polls every `POLL` for `secs` seconds from `start`, the simulator answering; then keeps the
/// last 360 points of every track (the range a step asks for may reach further back).
fn drive(model: &mut Model, sim: &mut Simulator, start: DateTime<Utc>, secs: i64) {
    let mut now = start;
    let end = start + chrono::Duration::seconds(secs);
    while now < end {
        now += chrono::Duration::milliseconds(POLL.as_millis() as i64);
        sim.advance_to(now);
        let effects = update(model, Msg::Tick(now));
        run(model, sim, now, effects);
    }
    for p in &mut model.current_mut().panels {
        for track in [&mut p.series.baseline, &mut p.series.canary] {
            let extra = track.points.len().saturating_sub(360);
            track.points.drain(..extra);
        }
    }
}

/// A console 15 minutes into a healthy rollout, with the demo's 4 metrics twice (8 panels).
fn busy_model() -> Model {
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
    let mut model = Model::new(settings(), panels, demo_panels::slo_panels(), start);
    model.chart_window = ChartWindow::M15;
    // The frame: 360 points a track.
    drive(&mut model, &mut sim, start, 900);
    model
}

/// Members of the fleet polled for real; the rest are copies of them under their own names
/// (polling 50 simulators for 15 minutes each takes longer than the bench should).
const DISTINCT: usize = 6;

/// A console following `n` rollouts named as `simulate --fleet n` (seed 7) names them: its first
/// `DISTINCT` members (one of each start: healthy, latency regression, error spike, slow burn,
/// paused by a person, completed) each polled for 15 minutes at 2.5 s by a console of its own,
/// the others copies of them, all gathered into one console on the fleet list.
fn fleet_model(n: usize) -> Model {
    use rollout_console::sim::fleet::{name, plan, simulate};
    let start = t0();
    let base = SimOptions {
        seed: 7,
        ..SimOptions::default()
    };
    let polled: Vec<_> = plan(DISTINCT.min(n), base.seed)
        .iter()
        .map(|member| {
            let mut sim = simulate(member, &base, start);
            let mut s = settings();
            s.rollout_name = member.name.clone();
            let mut model = Model::new(
                s,
                demo_panels::metric_panels(),
                demo_panels::slo_panels(),
                start,
            );
            model.actions = rollout_console::sim::backend::SIM_ACTIONS.to_vec();
            model.chart_window = ChartWindow::M15;
            drive(&mut model, &mut sim, start, 900);
            model.rollouts.remove(0)
        })
        .collect();
    let rollouts: Vec<_> = (0..n)
        .filter_map(|i| {
            let mut r = polled.get(i % DISTINCT)?.clone();
            r.name = name(i);
            if let Some(rollout) = r.rollout.as_mut() {
                rollout.name = name(i);
            }
            Some(r)
        })
        .collect();
    let end = start + chrono::Duration::seconds(900);
    let mut model = Model::new(
        settings(),
        demo_panels::metric_panels(),
        demo_panels::slo_panels(),
        end,
    )
    .with_rollouts(rollouts);
    model.actions = rollout_console::sim::backend::SIM_ACTIONS.to_vec();
    model.chart_window = ChartWindow::M15;
    // A message that asks for nothing, so that the fleet rows are worked out.
    let effects = update(&mut model, Msg::Resize(160, 48));
    assert!(effects.is_empty(), "a resize asked for {effects:?}");
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

    let built = Instant::now();
    let fleet = fleet_model(50);
    let rows = &fleet.derived.fleet_rows;
    let worst_points: Vec<usize> = rows
        .iter()
        .map(|r| {
            let panels = &fleet.rollouts[r.index].panels;
            r.worst
                .as_ref()
                .and_then(|(_, _, i)| panels.get(*i))
                .map_or(0, |p| p.series.canary.points.len())
        })
        .collect();
    println!(
        "fleet list: {} rows ({:?}), worst metric's canary points {}..={} a row (built in {:.1} s)",
        rows.len(),
        fleet.derived.fleet_counts,
        worst_points.iter().min().copied().unwrap_or(0),
        worst_points.iter().max().copied().unwrap_or(0),
        built.elapsed().as_secs_f64()
    );
    frame_times(&fleet, 160, 48, 50);
    report(
        "one frame, fleet list (50 rows) 160x48",
        &frame_times(&fleet, 160, 48, 2000),
    );
    report(
        "one frame, fleet list (50 rows) 80x24",
        &frame_times(&fleet, 80, 24, 2000),
    );
}
