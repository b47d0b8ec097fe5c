//! The view's figures: everything the screen shows that is worked out from the model (the
//! "why" line, readiness, the judge's score, the footer's keys), computed once at the end of
//! every `update` into `Model::derived`, so the view never calls back into the app.

use super::explain::why;
use super::keymap::footer_keys;
use super::model::{Derived, Model};
use crate::domain::format::age;

/// Recomputes `model.derived` from the rest of the model (at `model.now`).
pub fn refresh_derived(model: &mut Model) {
    model.derived = Derived {
        why: why(model),
        readiness: model.readiness(),
        judge_score: model.judge_score(),
        judge_collecting: model.judge_collecting(),
        in_flight_for: model.current().in_flight.map(|f| age(f.since, model.now)),
        footer_keys: footer_keys(model),
    };
}
