//! The simulator's counters in the Prometheus text exposition format (version 0.0.4): a latency
//! histogram `http_request_duration_seconds` and a counter `http_requests_total` with `code`,
//! labelled `job="checkout"`, `track="baseline"|"canary"` and, as Argo's pods would be after
//! kubernetes_sd's labelmap, `rollouts_pod_template_hash` (the simulated rollout's hashes).
//! A fleet (`simulate --fleet N`) labels each rollout's series `job="<name>",rollout="<name>"`.

use std::fmt::Write;

use super::Totals;
use super::histogram::BUCKETS;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Render both tracks. `job` is the service's job label.
pub fn render(job: &str, totals: &[Totals; 2]) -> String {
    write(&[(job, None, totals)])
}

/// Render every rollout of a fleet: each one's series as [`render`]'s, with `job` and an extra
/// `rollout` label set to its name, grouped by metric family (one HELP and TYPE each).
pub fn render_fleet(rollouts: &[(&str, &[Totals; 2])]) -> String {
    let services: Vec<_> = rollouts
        .iter()
        .map(|(name, totals)| (*name, Some(*name), *totals))
        .collect();
    write(&services)
}

/// Each service: its job label, its `rollout` label if any, its counters.
fn write(services: &[(&str, Option<&str>, &[Totals; 2])]) -> String {
    let mut out = String::with_capacity(8 * 1024 * services.len());
    let labels = |job: &str, rollout: Option<&str>, track: &str, hash: &str| match rollout {
        None => format!("job=\"{job}\",track=\"{track}\",rollouts_pod_template_hash=\"{hash}\""),
        Some(r) => format!(
            "job=\"{job}\",rollout=\"{r}\",track=\"{track}\",rollouts_pod_template_hash=\"{hash}\""
        ),
    };
    let tracks = |totals: &'_ [Totals; 2]| {
        [
            ("baseline", super::STABLE_HASH, totals[0]),
            ("canary", super::CANARY_HASH, totals[1]),
        ]
    };
    out.push_str("# HELP http_request_duration_seconds Latency of HTTP requests.\n");
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for (job, rollout, totals) in services {
        for (track, hash, t) in tracks(totals) {
            let labels = labels(job, *rollout, track, hash);
            let mut cumulative = 0u64;
            for (bound, count) in BUCKETS.iter().zip(t.slots.iter()) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                t.requests
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                t.latency_sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                t.requests
            );
        }
    }
    out.push_str("# HELP http_requests_total HTTP requests by status code.\n");
    out.push_str("# TYPE http_requests_total counter\n");
    for (job, rollout, totals) in services {
        for (track, hash, t) in tracks(totals) {
            let labels = labels(job, *rollout, track, hash);
            let _ = writeln!(
                out,
                "http_requests_total{{{labels},code=\"200\"}} {}",
                t.requests - t.errors
            );
            let _ = writeln!(
                out,
                "http_requests_total{{{labels},code=\"500\"}} {}",
                t.errors
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::histogram::SLOTS;

    /// Render both tracks. `job` is the service's job label.
    #[test]
    fn a_fleet_is_each_rollouts_series_with_its_rollout_label() {
        let mut t = Totals {
            requests: 1234,
            errors: 7,
            latency_sum: 98.25,
            ..Totals::default()
        };
        for (i, s) in t.slots.iter_mut().enumerate() {
            *s = (i * 37) as u64;
        }
        let c = Totals { requests: 99, ..t };
        let one = [t, c];
        let two = [c, t];
        let fleet = render_fleet(&[("payments", &one), ("search", &two)]);
        // One HELP and TYPE per family, all of a family's samples together.
        assert_eq!(fleet.matches("# TYPE").count(), 2, "{fleet}");
        for (name, totals) in [("payments", &one), ("search", &two)] {
            let single: Vec<String> = render(name, totals)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from)
                .collect();
            let labelled: Vec<String> = fleet
                .lines()
                .filter(|l| l.contains(&format!("job=\"{name}\",rollout=\"{name}\",track=")))
                .map(|l| l.replace(&format!(",rollout=\"{name}\""), ""))
                .collect();
            assert_eq!(labelled, single, "{name}");
        }
        assert_eq!(
            fleet.lines().count(),
            2 * (render("x", &one).lines().count() - 4) + 4
        );
    }

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let mut t = Totals {
            requests: 10,
            errors: 2,
            latency_sum: 1.5,
            ..Totals::default()
        };
        t.slots[0] = 3;
        t.slots[1] = 5;
        t.slots[SLOTS - 1] = 2;
        let text = render("checkout", &[t, Totals::default()]);
        assert!(text.contains("http_request_duration_seconds_bucket{job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",le=\"0.005\"} 3\n"), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket{job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",le=\"0.01\"} 8\n"), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket{job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",le=\"10\"} 8\n"), "{text}");
        assert!(text.contains("http_request_duration_seconds_bucket{job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",le=\"+Inf\"} 10\n"), "{text}");
        assert!(
            text.contains(
                "http_requests_total{job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",code=\"500\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "http_requests_total{job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",code=\"200\"} 8\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "http_requests_total{job=\"checkout\",track=\"canary\",rollouts_pod_template_hash=\"7b9f4c6d5\",code=\"200\"} 0\n"
            ),
            "{text}"
        );
    }
}
