//! `simulate --instrumentation <name>`: the same simulated traffic exported under one
//! instrumentation's metric and label names (and units: millisecond buckets for istio, linkerd
//! and envoy), so each metric preset (src/config/presets) can be tested end to end.
//!
//! `prometheus` is the default and renders exactly as [`super::exposition`] does. Every other
//! one keeps `job="<service>"` (and `rollout="<name>"` in a fleet) on each series, as a scrape
//! would attach; the ones scraped from the application's own pods (opentelemetry, micrometer,
//! istio, linkerd) also carry `track` and `rollouts_pod_template_hash` like the default's, while
//! the proxies (nginx-ingress, envoy, traefik) tell the tracks apart only by their own labels
//! (`canary`, `envoy_cluster_name`, `service`), as a real ingress does. The names and labels are
//! those the presets' files cite their sources for.

use std::fmt::Write;

use super::Totals;
use super::exposition;
use super::histogram::BUCKETS;

/// An instrumentation the simulator can export as; its name is the preset's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Instrumentation {
    #[default]
    Prometheus,
    OpenTelemetry,
    Micrometer,
    Istio,
    Linkerd,
    NginxIngress,
    Envoy,
    Traefik,
}

impl Instrumentation {
    pub const ALL: [Self; 8] = [
        Self::Prometheus,
        Self::OpenTelemetry,
        Self::Micrometer,
        Self::Istio,
        Self::Linkerd,
        Self::NginxIngress,
        Self::Envoy,
        Self::Traefik,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Prometheus => "prometheus",
            Self::OpenTelemetry => "opentelemetry",
            Self::Micrometer => "micrometer",
            Self::Istio => "istio",
            Self::Linkerd => "linkerd",
            Self::NginxIngress => "nginx-ingress",
            Self::Envoy => "envoy",
            Self::Traefik => "traefik",
        }
    }

    /// By name, or an error listing the names.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|i| i.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|i| i.name()).collect();
                format!(
                    "no instrumentation {name:?}; the instrumentations are {}",
                    names.join(", ")
                )
            })
    }

    fn spec(self) -> Option<Spec> {
        Some(match self {
            Self::Prometheus => return None,
            Self::OpenTelemetry => Spec {
                histogram: "http_server_request_duration_seconds",
                help: "Duration of HTTP server requests.",
                millis: false,
                histogram_status: true,
                counter: None,
                status: [
                    "http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/checkout\",url_scheme=\"http\"",
                    "http_request_method=\"GET\",http_response_status_code=\"500\",http_route=\"/checkout\",url_scheme=\"http\"",
                ],
                constant: "",
                pod_labels: true,
                tracks: ["", ""],
            },
            Self::Micrometer => Spec {
                histogram: "http_server_requests_seconds",
                help: "Duration of HTTP server request handling",
                millis: false,
                histogram_status: true,
                counter: None,
                status: [
                    "error=\"none\",exception=\"none\",method=\"GET\",outcome=\"SUCCESS\",status=\"200\",uri=\"/checkout\"",
                    "error=\"none\",exception=\"none\",method=\"GET\",outcome=\"SERVER_ERROR\",status=\"500\",uri=\"/checkout\"",
                ],
                constant: "",
                pod_labels: true,
                tracks: ["", ""],
            },
            Self::Istio => Spec {
                histogram: "istio_request_duration_milliseconds",
                help: "Request duration in milliseconds.",
                millis: true,
                histogram_status: true,
                counter: Some(("istio_requests_total", "Total requests.")),
                status: [
                    "response_code=\"200\",response_flags=\"-\"",
                    "response_code=\"500\",response_flags=\"-\"",
                ],
                constant: "reporter=\"destination\",destination_workload=\"{job}\",destination_workload_namespace=\"shop\",destination_canonical_service=\"{job}\",destination_canonical_revision=\"latest\",request_protocol=\"http\"",
                pod_labels: true,
                tracks: ["", ""],
            },
            Self::Linkerd => Spec {
                histogram: "response_latency_ms",
                help: "Elapsed times between a request's headers being received and its response stream completing",
                millis: true,
                histogram_status: true,
                counter: Some(("response_total", "Total count of HTTP responses.")),
                status: [
                    "classification=\"success\",status_code=\"200\"",
                    "classification=\"failure\",status_code=\"500\"",
                ],
                constant: "direction=\"inbound\",namespace=\"shop\",deployment=\"{job}\",tls=\"true\"",
                pod_labels: true,
                tracks: ["", ""],
            },
            Self::NginxIngress => Spec {
                histogram: "nginx_ingress_controller_request_duration_seconds",
                help: "The request processing time in milliseconds",
                millis: false,
                histogram_status: true,
                counter: Some((
                    "nginx_ingress_controller_requests",
                    "The total number of client requests",
                )),
                status: ["status=\"200\"", "status=\"500\""],
                constant: "controller_class=\"k8s.io/ingress-nginx\",host=\"{job}.example.com\",ingress=\"{job}\",method=\"GET\",namespace=\"shop\",path=\"/\",service=\"{job}\"",
                pod_labels: false,
                tracks: ["canary=\"\"", "canary=\"shop-{job}-canary-80\""],
            },
            Self::Envoy => Spec {
                histogram: "envoy_cluster_upstream_rq_time",
                help: "",
                millis: true,
                histogram_status: false,
                counter: Some(("envoy_cluster_upstream_rq", "")),
                status: ["envoy_response_code=\"200\"", "envoy_response_code=\"500\""],
                constant: "",
                pod_labels: false,
                tracks: [
                    "envoy_cluster_name=\"shop_{job}_80\"",
                    "envoy_cluster_name=\"shop_{job}-canary_80\"",
                ],
            },
            Self::Traefik => Spec {
                histogram: "traefik_service_request_duration_seconds",
                help: "How long it took to process the request on a service, partitioned by status code, protocol, and method.",
                millis: false,
                histogram_status: true,
                counter: Some((
                    "traefik_service_requests_total",
                    "How many HTTP requests processed on a service, partitioned by status code, protocol, and method.",
                )),
                status: [
                    "code=\"200\",method=\"GET\",protocol=\"http\"",
                    "code=\"500\",method=\"GET\",protocol=\"http\"",
                ],
                constant: "",
                pod_labels: false,
                tracks: [
                    "service=\"shop-{job}-80@kubernetes\"",
                    "service=\"shop-{job}-canary-80@kubernetes\"",
                ],
            },
        })
    }
}

impl std::fmt::Display for Instrumentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How one instrumentation names the traffic.
struct Spec {
    /// The latency histogram's family (`_bucket`, `_sum`, `_count` added).
    histogram: &'static str,
    help: &'static str,
    /// Bucket bounds and sum in milliseconds (else seconds).
    millis: bool,
    /// The histogram is labelled by status (`status`), one series for 2xx and one for 5xx.
    histogram_status: bool,
    /// The request counter's family and help, if it has one apart from the histogram's `_count`.
    counter: Option<(&'static str, &'static str)>,
    /// The labels of a successful and of a failed request.
    status: [&'static str; 2],
    /// Labels on every series; `{job}` is the service's name.
    constant: &'static str,
    /// `track` and `rollouts_pod_template_hash`, as on series scraped from the pods.
    pod_labels: bool,
    /// The instrumentation's own labels of the baseline and of the canary (`{job}` as above).
    tracks: [&'static str; 2],
}

/// Both tracks of the service `job` (the default: [`exposition::render`]).
pub fn render(instrumentation: Instrumentation, job: &str, totals: &[Totals; 2]) -> String {
    match instrumentation.spec() {
        None => exposition::render(job, totals),
        Some(spec) => write(&spec, &[(job, None, totals)]),
    }
}

/// Every rollout of a fleet, each labelled `job="<name>",rollout="<name>"`
/// (the default: [`exposition::render_fleet`]).
pub fn render_fleet(instrumentation: Instrumentation, rollouts: &[(&str, &[Totals; 2])]) -> String {
    match instrumentation.spec() {
        None => exposition::render_fleet(rollouts),
        Some(spec) => {
            let services: Vec<_> = rollouts
                .iter()
                .map(|(name, totals)| (*name, Some(*name), *totals))
                .collect();
            write(&spec, &services)
        }
    }
}

/// A latency bound as the instrumentation writes it: seconds, or whole milliseconds.
fn bound(spec: &Spec, seconds: f64) -> String {
    if spec.millis {
        format!("{}", (seconds * 1000.0).round())
    } else {
        format!("{seconds}")
    }
}

/// The sum of latencies of `slots` by each bucket's middle (its upper bound for the first, the
/// last finite bound for `+Inf`): it only grows as the slots do.
fn sum_of(slots: &[u64], scale: f64) -> f64 {
    let mut sum = 0.0;
    let mut lower = 0.0;
    for (i, n) in slots.iter().enumerate() {
        let upper = BUCKETS
            .get(i)
            .copied()
            .unwrap_or(BUCKETS[BUCKETS.len() - 1]);
        sum += *n as f64 * (lower + upper) / 2.0;
        lower = upper;
    }
    sum * scale
}

type Service<'a> = (&'a str, Option<&'a str>, &'a [Totals; 2]);

fn write(spec: &Spec, services: &[Service<'_>]) -> String {
    let mut out = String::with_capacity(8 * 1024 * services.len());
    let scale = if spec.millis { 1000.0 } else { 1.0 };
    // Each track's labels up to the status: scrape labels, constant and track labels.
    let labels = |job: &str, rollout: Option<&str>, track: usize| {
        let mut parts = vec![format!("job=\"{job}\"")];
        if let Some(r) = rollout {
            parts.push(format!("rollout=\"{r}\""));
        }
        if spec.pod_labels {
            let (name, hash) = [
                ("baseline", super::STABLE_HASH),
                ("canary", super::CANARY_HASH),
            ][track];
            parts.push(format!(
                "track=\"{name}\",rollouts_pod_template_hash=\"{hash}\""
            ));
        }
        for extra in [spec.constant, spec.tracks[track]] {
            if !extra.is_empty() {
                parts.push(extra.replace("{job}", job));
            }
        }
        parts.join(",")
    };
    let _ = writeln!(out, "# HELP {} {}", spec.histogram, spec.help);
    let _ = writeln!(out, "# TYPE {} histogram", spec.histogram);
    for (job, rollout, totals) in services {
        for (track, t) in totals.iter().enumerate() {
            let base = labels(job, *rollout, track);
            // (labels, per-slot counts) of each series: by status, or all requests in one.
            let series: Vec<(String, Vec<u64>)> = if spec.histogram_status {
                let ok = t
                    .slots
                    .iter()
                    .zip(t.error_slots)
                    .map(|(s, e)| s.saturating_sub(e))
                    .collect();
                vec![
                    (format!("{base},{}", spec.status[0]), ok),
                    (format!("{base},{}", spec.status[1]), t.error_slots.to_vec()),
                ]
            } else {
                vec![(base.clone(), t.slots.to_vec())]
            };
            for (labels, slots) in series {
                let mut cumulative = 0u64;
                for (b, n) in BUCKETS.iter().zip(&slots) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "{}_bucket{{{labels},le=\"{}\"}} {cumulative}",
                        spec.histogram,
                        bound(spec, *b)
                    );
                }
                let count: u64 = slots.iter().sum();
                let _ = writeln!(
                    out,
                    "{}_bucket{{{labels},le=\"+Inf\"}} {count}",
                    spec.histogram
                );
                let sum = if spec.histogram_status {
                    sum_of(&slots, scale)
                } else {
                    t.latency_sum * scale
                };
                let _ = writeln!(out, "{}_sum{{{labels}}} {sum}", spec.histogram);
                let _ = writeln!(out, "{}_count{{{labels}}} {count}", spec.histogram);
            }
        }
    }
    if let Some((counter, help)) = spec.counter {
        let _ = writeln!(out, "# HELP {counter} {help}");
        let _ = writeln!(out, "# TYPE {counter} counter");
        for (job, rollout, totals) in services {
            for (track, t) in totals.iter().enumerate() {
                let base = labels(job, *rollout, track);
                let ok = t.requests - t.errors;
                let _ = writeln!(out, "{counter}{{{base},{}}} {ok}", spec.status[0]);
                let _ = writeln!(out, "{counter}{{{base},{}}} {}", spec.status[1], t.errors);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::histogram::SLOTS;

    fn totals() -> [Totals; 2] {
        let mut t = Totals {
            requests: 100,
            errors: 10,
            latency_sum: 5.0,
            ..Totals::default()
        };
        t.slots[0] = 60;
        t.slots[6] = 30;
        t.slots[SLOTS - 1] = 10;
        t.error_slots[0] = 4;
        t.error_slots[SLOTS - 1] = 6;
        [t, Totals::default()]
    }

    #[test]
    fn every_name_parses_back_and_a_bad_one_lists_them() {
        for i in Instrumentation::ALL {
            assert_eq!(Instrumentation::parse(i.name()), Ok(i));
        }
        let e = Instrumentation::parse("nginx").unwrap_err();
        assert!(
            e.contains("prometheus, opentelemetry, micrometer, istio"),
            "{e}"
        );
    }

    #[test]
    fn the_default_is_the_plain_exposition() {
        let t = totals();
        assert_eq!(
            render(Instrumentation::Prometheus, "checkout", &t),
            exposition::render("checkout", &t)
        );
    }

    #[test]
    fn istio_splits_by_response_code_in_milliseconds() {
        let text = render(Instrumentation::Istio, "checkout", &totals());
        let head = "job=\"checkout\",track=\"baseline\",rollouts_pod_template_hash=\"5f7c9d6b8\",reporter=\"destination\",destination_workload=\"checkout\"";
        assert!(
            text.contains(&format!(
                "istio_request_duration_milliseconds_bucket{{{head}"
            )),
            "{text}"
        );
        assert!(
            text.contains("response_code=\"500\",response_flags=\"-\",le=\"5\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("response_code=\"200\",response_flags=\"-\",le=\"100\"} 86\n"),
            "{text}"
        );
        assert!(
            text.contains("response_code=\"500\",response_flags=\"-\",le=\"+Inf\"} 10\n"),
            "{text}"
        );
        assert!(
            text.contains("response_code=\"200\",response_flags=\"-\"} 90\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE istio_requests_total counter\n"),
            "{text}"
        );
    }

    #[test]
    fn proxies_tell_the_tracks_apart_by_their_own_labels() {
        let text = render(Instrumentation::Envoy, "checkout", &totals());
        assert!(!text.contains("rollouts_pod_template_hash"), "{text}");
        assert!(text.contains("envoy_cluster_upstream_rq{job=\"checkout\",envoy_cluster_name=\"shop_checkout-canary_80\",envoy_response_code=\"200\"} 0\n"), "{text}");
        assert!(text.contains("envoy_cluster_upstream_rq_time_bucket{job=\"checkout\",envoy_cluster_name=\"shop_checkout_80\",le=\"10000\"} 90\n"), "{text}");
        assert!(text.contains("envoy_cluster_upstream_rq_time_sum{job=\"checkout\",envoy_cluster_name=\"shop_checkout_80\"} 5000\n"), "{text}");
        let text = render(Instrumentation::NginxIngress, "checkout", &totals());
        assert!(text.contains(",canary=\"\",status=\"500\"} 10\n"), "{text}");
        assert!(
            text.contains(",canary=\"shop-checkout-canary-80\",status=\"200\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn a_fleet_labels_each_rollout() {
        let t = totals();
        let text = render_fleet(
            Instrumentation::Traefik,
            &[("payments", &t), ("search", &t)],
        );
        assert_eq!(text.matches("# TYPE").count(), 2, "{text}");
        assert!(text.contains("traefik_service_requests_total{job=\"search\",rollout=\"search\",service=\"shop-search-80@kubernetes\",code=\"500\",method=\"GET\",protocol=\"http\"} 10\n"), "{text}");
    }
}
