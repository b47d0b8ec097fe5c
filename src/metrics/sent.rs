//! A metric's queries as the Prometheus source sends them, per track and for the sequential
//! judge's raw counters, for the detail view: rendering PromQL is the metrics layer's job.

use std::time::Duration;

use super::source::{DEFAULT_WINDOW, NO_TRACKS_YET, Selectors};
use super::template::{self, Vars};
use super::{Counters, Tracks};

/// `(what, query)` pairs: the query per track, then each counter per track. Without selectors
/// (the simulator) nothing is rendered: the simulator answers the query by name.
pub fn queries_as_sent(
    query: &str,
    window: Option<Duration>,
    counters: Option<&Counters>,
    selectors: Option<&Selectors>,
    tracks: Option<&Tracks>,
) -> Vec<(String, String)> {
    let counters: Vec<(&str, &str)> = match counters {
        Some(Counters::Histogram(buckets)) => vec![("buckets", buckets.as_str())],
        Some(Counters::Ratio { errors, total }) => {
            vec![("errors", errors.as_str()), ("total", total.as_str())]
        }
        None => Vec::new(),
    };
    let Some(sel) = selectors else {
        let mut out = vec![("simulator series".to_string(), query.to_string())];
        out.extend(
            counters
                .iter()
                .map(|(what, q)| (format!("simulator {what}"), q.to_string())),
        );
        return out;
    };
    let (baseline, canary) = tracks.map_or((sel.baseline.as_str(), sel.canary.as_str()), |t| {
        (t.baseline.as_str(), t.canary.as_str())
    });
    let render = |template: &str, selector: &str, window: Option<Duration>| {
        if selector.trim().is_empty() {
            return format!("(not sent: {NO_TRACKS_YET})");
        }
        let nonempty = |s: &str| !s.trim().is_empty();
        let vars = Vars {
            selector: Some(selector),
            service: Some(sel.service.as_str()).filter(|s| nonempty(s)),
            window,
            rollout: Some(sel.rollout.as_str()).filter(|s| nonempty(s)),
        };
        template::render(template, &vars).unwrap_or_else(|e| format!("(not sent: {e})"))
    };
    let window = Some(window.unwrap_or(DEFAULT_WINDOW));
    let mut out = Vec::new();
    for (track, selector) in [("baseline", baseline), ("canary", canary)] {
        out.push((track.to_string(), render(query, selector, window)));
    }
    // Counters are read raw (no `$window`), as the source sends them.
    for (what, template) in &counters {
        for (track, selector) in [("baseline", baseline), ("canary", canary)] {
            out.push((format!("{track} {what}"), render(template, selector, None)));
        }
    }
    out
}
