//! Presets of instrumentation inside the application, scraped from its pods (so the tracks are
//! the rollout's pod-template hashes): Prometheus client libraries, OpenTelemetry and
//! Micrometer.
//!
//! What was read to check the names (2026-12): Flagger's `pkg/metrics/observers/*.go`
//! (fluxcd/flagger: istio, linkerd, contour, nginx, traefik) and public dashboards and alert rules
//! using these names. The vendor references cited per preset are where the names are documented;
//! they were not re-opened for this check, so treat their version numbers as the intended ones.

use super::{Preset, Tracks};

/// Checked against: the Prometheus client conventions (prometheus.io "Metric and label naming",
/// client_golang promhttp's `code` label) and Flagger's `pkg/metrics/observers` (fluxcd/flagger,
/// 2024). It is this project's own example config and the simulator's default exposition.
pub static PROMETHEUS: Preset = Preset {
    name: "prometheus",
    about: "Prometheus client-library conventions (http_requests_total{code}, http_request_duration_seconds)",
    total: "http_requests_total{$selector}",
    errors: r#"http_requests_total{$selector, code=~"5.."}"#,
    buckets: "http_request_duration_seconds_bucket{$selector}",
    millis: false,
    tracks: Tracks::PodHash,
    recognise_by: &[
        "http_requests_total",
        "http_request_duration_seconds_bucket",
    ],
    checked: "prometheus.io naming conventions; client_golang promhttp (code label)",
    note: "",
};

/// Checked against: OpenTelemetry semantic conventions for HTTP metrics v1.26+ (stable):
/// `http.server.request.duration` (histogram, seconds) with `http.response.status_code`,
/// `http.request.method`, `http.route`; exported to Prometheus (OTel Prometheus exporter /
/// collector `prometheus` exporter) as `http_server_request_duration_seconds_{bucket,count,sum}`
/// with dots turned into underscores. Requests are the histogram's `_count`.
pub static OPENTELEMETRY: Preset = Preset {
    name: "opentelemetry",
    about: "OpenTelemetry HTTP semantic conventions exported to Prometheus (http_server_request_duration_seconds)",
    total: "http_server_request_duration_seconds_count{$selector}",
    errors: r#"http_server_request_duration_seconds_count{$selector, http_response_status_code=~"5.."}"#,
    buckets: "http_server_request_duration_seconds_bucket{$selector}",
    millis: false,
    tracks: Tracks::PodHash,
    recognise_by: &[
        "http_server_request_duration_seconds_count",
        "http_server_request_duration_seconds_bucket",
    ],
    checked: "OTel semconv HTTP metrics v1.26 (http.server.request.duration, seconds)",
    note: "older SDKs (semconv < 1.20) export http_server_duration in milliseconds instead: write those as [[metrics]]",
};

/// Checked against: Micrometer's and Spring Boot 3's docs (`http.server.requests` timer with
/// `status`, `outcome`, `uri`, `method`, `exception`, `error` tags; Prometheus names
/// `http_server_requests_seconds_{count,sum,max,bucket}`). The `_bucket` series exist only with
/// `management.metrics.distribution.percentiles-histogram.http.server.requests=true`.
pub static MICROMETER: Preset = Preset {
    name: "micrometer",
    about: "Micrometer / Spring Boot Actuator (http_server_requests_seconds with status, outcome, uri)",
    total: "http_server_requests_seconds_count{$selector}",
    errors: r#"http_server_requests_seconds_count{$selector, status=~"5.."}"#,
    buckets: "http_server_requests_seconds_bucket{$selector}",
    millis: false,
    tracks: Tracks::PodHash,
    recognise_by: &[
        "http_server_requests_seconds_count",
        "http_server_requests_seconds_bucket",
    ],
    checked: "Micrometer 1.12 / Spring Boot 3.2 docs (http.server.requests)",
    note: "latency needs management.metrics.distribution.percentiles-histogram.http.server.requests=true (else no _bucket series)",
};
