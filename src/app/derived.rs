//! The view's figures: everything the screen shows that is worked out from the model (the
//! "why" line, readiness, the judge's score, the footer's keys, the fleet list's rows), computed
//! once at the end of every `update` into `Model::derived`, so the view never calls back into
//! the app.

use super::explain::{why, why_short};
use super::fleet::{all_rows, counts, matches};
use super::keymap::footer_keys;
use super::model::{Derived, Model};
use crate::domain::format::age;

/// Recomputes `model.derived` from the rest of the model (at `model.now`); the fleet's rows only
/// when `rows_too` (else they stay as last worked out).
pub fn refresh_derived(model: &mut Model, rows_too: bool) {
    // A console with one rollout has no list: nothing to rank.
    let (fleet_rows, fleet_counts, fleet_ranks) = if !rows_too && model.rollouts.len() > 1 {
        (
            std::mem::take(&mut model.derived.fleet_rows),
            std::mem::take(&mut model.derived.fleet_counts),
            std::mem::take(&mut model.derived.fleet_ranks),
        )
    } else if model.rollouts.len() > 1 {
        let all = all_rows(model);
        let counts = counts(&all);
        let ranks = all.iter().map(|r| (r.index, r.rank)).collect();
        let filter = model.fleet.filter.clone();
        let rows: Vec<_> = all.into_iter().filter(|r| matches(r, &filter)).collect();
        // The selection stays on its rollout; one filtered out hands it to the first row.
        if (!model.fleet.chosen || !rows.iter().any(|r| r.index == model.fleet.selected))
            && let Some(first) = rows.first()
        {
            model.fleet.selected = first.index;
        }
        (rows, counts, ranks)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let why = why(model);
    let why_short = why_short(model, &why.1);
    model.derived = Derived {
        why,
        why_short,
        readiness: model.readiness(),
        judge_score: model.judge_score(),
        judge_collecting: model.judge_collecting(),
        in_flight_for: model.current().in_flight.map(|f| age(f.since, model.now)),
        footer_keys: footer_keys(model),
        fleet_rows,
        fleet_counts,
        fleet_ranks,
    };
}
