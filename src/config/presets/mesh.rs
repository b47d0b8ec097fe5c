//! Presets of service meshes, whose sidecar proxies count every request to the pod they run in:
//! Istio and Linkerd. Both measure latency in milliseconds (divided by 1000 in the queries) and
//! are scraped from the serving pod, so the pod labels a kubernetes_sd labelmap copies (the
//! rollout's pod-template hash) tell the tracks apart.
//!
//! What was read to check the names (2026-12): Flagger's `pkg/metrics/observers/*.go`
//! (fluxcd/flagger: istio, linkerd, contour, nginx, traefik) and public dashboards and alert rules
//! using these names. The vendor references cited per preset are where the names are documented;
//! they were not re-opened for this check, so treat their version numbers as the intended ones.

use super::{Preset, Tracks};

/// Checked against: Istio's "Standard Metrics" reference (istio.io, 1.22): `istio_requests_total`
/// (COUNTER) and `istio_request_duration_milliseconds` (DISTRIBUTION) with `reporter`,
/// `response_code`, `destination_workload`, `destination_canonical_service`,
/// `destination_canonical_revision`; and Flagger's `pkg/metrics/observers/istio.go`
/// (fluxcd/flagger: `reporter="destination"`, `response_code!~"5.*"`,
/// `istio_request_duration_milliseconds_bucket`). `reporter="destination"` counts each request
/// once, at the serving pod's sidecar.
pub static ISTIO: Preset = Preset {
    name: "istio",
    about: "Istio sidecars, reporter=\"destination\" (istio_requests_total, istio_request_duration_milliseconds)",
    total: r#"istio_requests_total{$selector, reporter="destination"}"#,
    errors: r#"istio_requests_total{$selector, reporter="destination", response_code=~"5.."}"#,
    buckets: r#"istio_request_duration_milliseconds_bucket{$selector, reporter="destination"}"#,
    millis: true,
    tracks: Tracks::PodHash,
    recognise_by: &[
        "istio_requests_total",
        "istio_request_duration_milliseconds_bucket",
    ],
    checked: "istio.io Standard Metrics (1.22); fluxcd/flagger observers/istio.go",
    note: "tracks by pod hash need the pod labels on the scrape (labelmap); else use destination_canonical_revision (service.istio.io/canonical-revision) as baseline/canary",
};

/// Checked against: Linkerd's proxy metrics reference (linkerd.io 2.14, "Proxy Metrics"):
/// `response_total` with `classification` ("success"/"failure") and `status_code`,
/// `response_latency_ms` histogram, `direction` ("inbound"/"outbound"); and Flagger's
/// `pkg/metrics/observers/linkerd.go` (fluxcd/flagger: `classification!="failure"`,
/// `direction="inbound"`, `response_latency_ms_bucket`). linkerd-viz's Prometheus copies the pod
/// labels (labelmap), so the pod-template hash is on every series.
pub static LINKERD: Preset = Preset {
    name: "linkerd",
    about: "Linkerd proxies, direction=\"inbound\" (response_total, response_latency_ms)",
    total: r#"response_total{$selector, direction="inbound"}"#,
    errors: r#"response_total{$selector, direction="inbound", classification="failure"}"#,
    buckets: r#"response_latency_ms_bucket{$selector, direction="inbound"}"#,
    millis: true,
    tracks: Tracks::PodHash,
    recognise_by: &["response_total", "response_latency_ms_bucket"],
    checked: "linkerd.io Proxy Metrics (2.14); fluxcd/flagger observers/linkerd.go",
    note: "classification=\"failure\" is Linkerd's own (5xx and gRPC errors), not a status-code match",
};
