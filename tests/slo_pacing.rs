//! The SLO windows are asked at most every `slo_refresh` (they move slowly and each touches every
//! sample of its window), while the metrics keep their poll interval; the SLO gauges stay live
//! between two refreshes, and a window with no answer or an error is asked again at once.

mod common;

use std::time::Duration;

use common::Harness;
use rollout_console::app::model::Freshness;
use rollout_console::app::{Effect, Msg, update};
use rollout_console::sim::Scenario;

/// One poll at `h.now + secs`; returns how many SLOs the metrics request asked for (None: no
/// metrics request).
fn poll_after(h: &mut Harness, secs: i64) -> Option<usize> {
    h.now += chrono::Duration::seconds(secs);
    h.sim.advance_to(h.now);
    let effects = update(&mut h.model, Msg::Tick(h.now));
    let asked = effects.iter().find_map(|e| match e {
        Effect::FetchMetrics { request, .. } => Some(request.slos.len()),
        _ => None,
    });
    h.answer(effects);
    asked
}

#[test]
fn slo_windows_are_asked_once_a_minute_and_stay_live_between() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.model.slo_refresh = Duration::from_secs(60);
    let slos = h.model.current().slos.len();
    assert!(slos > 0, "the demo has SLOs");
    // The first poll (in Harness::new) asked them; the next 29 polls at 2 s do not.
    let mut asked = Vec::new();
    for _ in 0..29 {
        asked.push(poll_after(&mut h, 2));
    }
    assert!(asked.iter().all(|a| *a == Some(0)), "{asked:?}");
    for slo in &h.model.current().slos {
        assert_eq!(
            slo.freshness(h.model.now, h.model.slo_interval()),
            Freshness::Live,
            "58 s after its answer, within the SLO pace"
        );
    }
    assert_eq!(
        poll_after(&mut h, 2),
        Some(slos),
        "60 s after the last answer"
    );
    assert_eq!(poll_after(&mut h, 2), Some(0));
}

#[test]
fn an_slo_with_an_error_is_asked_again_at_the_next_poll() {
    let mut h = Harness::new(Scenario::Healthy, false);
    h.model.slo_refresh = Duration::from_secs(60);
    assert_eq!(poll_after(&mut h, 2), Some(0));
    h.model.current_mut().slos[0].error = Some("query timed out".into());
    let slos = h.model.current().slos.len();
    assert_eq!(poll_after(&mut h, 2), Some(slos));
    assert!(
        h.model.current().slos[0].error.is_none(),
        "the answer cleared it"
    );
    assert_eq!(poll_after(&mut h, 2), Some(0));
}

#[test]
fn without_a_pace_every_poll_asks_them() {
    let mut h = Harness::new(Scenario::Healthy, false);
    let slos = h.model.current().slos.len();
    for _ in 0..5 {
        assert_eq!(poll_after(&mut h, 2), Some(slos));
    }
}

#[test]
fn an_slo_answered_with_no_data_is_asked_again_at_the_next_poll() {
    // Prometheus had not scraped the service yet: the window answered, with nothing in it. A
    // budget of "unknown" must not stand for a minute (it blocks a promotion).
    use rollout_console::domain::slo::SloMeasurement;
    let mut h = Harness::new(Scenario::Healthy, false);
    h.model.slo_refresh = Duration::from_secs(60);
    assert_eq!(poll_after(&mut h, 2), Some(0));
    let slo = &mut h.model.current_mut().slos[0];
    slo.status = Some(slo.def.evaluate(&SloMeasurement {
        error_ratio: None,
        window_ratios: vec![],
    }));
    let slos = h.model.current().slos.len();
    assert_eq!(poll_after(&mut h, 2), Some(slos));
    assert_eq!(
        poll_after(&mut h, 2),
        Some(0),
        "the simulator's answer has data"
    );
}
