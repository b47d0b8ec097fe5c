//! Presets of proxies in front of both tracks, which see the canary as another upstream: ingress-
//! nginx, Envoy (Contour, Gateway API implementations) and Traefik. Their series carry no pod
//! labels of the application, so the tracks are told apart by the proxy's own labels; the
//! `[[rollouts]]` entry gives them as `baseline` and `canary`.
//!
//! What was read to check the names (2026-12): Flagger's `pkg/metrics/observers/*.go`
//! (fluxcd/flagger: istio, linkerd, contour, nginx, traefik) and public dashboards and alert rules
//! using these names. The vendor references cited per preset are where the names are documented;
//! they were not re-opened for this check, so treat their version numbers as the intended ones.

use super::{Preset, Tracks};

/// Checked against: ingress-nginx's "Prometheus and Grafana" monitoring docs and
/// `internal/ingress/metric/collectors/socket.go` (kubernetes/ingress-nginx, 1.10):
/// `nginx_ingress_controller_requests` (counter) and
/// `nginx_ingress_controller_request_duration_seconds` (histogram), both labelled `status`,
/// `ingress`, `namespace`, `service`, `host`, `path`, `method` and `canary` (the canary
/// backend's name when the canary annotations sent the request there, else empty). Flagger's
/// nginx observer reads the same counter with `status!~"5.*"`.
pub static NGINX_INGRESS: Preset = Preset {
    name: "nginx-ingress",
    about: "ingress-nginx controller (nginx_ingress_controller_requests, nginx_ingress_controller_request_duration_seconds)",
    total: "nginx_ingress_controller_requests{$selector}",
    errors: r#"nginx_ingress_controller_requests{$selector, status=~"5.."}"#,
    buckets: "nginx_ingress_controller_request_duration_seconds_bucket{$selector}",
    millis: false,
    tracks: Tracks::Labels {
        baseline: r#"canary="""#,
        canary: r#"canary!="""#,
    },
    recognise_by: &[
        "nginx_ingress_controller_requests",
        "nginx_ingress_controller_request_duration_seconds_bucket",
    ],
    checked: "kubernetes/ingress-nginx 1.10 metric collectors (socket.go) and monitoring docs; fluxcd/flagger observers/nginx.go",
    note: "needs the canary-by-weight annotations (nginx.ingress.kubernetes.io/canary); the service matchers are e.g. ingress=\"checkout\"",
};

/// Checked against: Envoy's cluster statistics (envoyproxy.io, v1.30: `upstream_rq` with the
/// response code, `upstream_rq_time` histogram in milliseconds) as Envoy's Prometheus stats
/// endpoint tags them (`envoy_cluster_name`, `envoy_response_code`); Flagger's
/// `pkg/metrics/observers/contour.go` (fluxcd/flagger: `envoy_cluster_upstream_rq{
/// envoy_cluster_name=~"<ns>_<target>-canary_<port>", envoy_response_code!~"5.*"}`,
/// `envoy_cluster_upstream_rq_time_bucket`).
pub static ENVOY: Preset = Preset {
    name: "envoy",
    about: "Envoy clusters: Contour, Gateway API (envoy_cluster_upstream_rq, envoy_cluster_upstream_rq_time in ms)",
    total: "envoy_cluster_upstream_rq{$selector}",
    errors: r#"envoy_cluster_upstream_rq{$selector, envoy_response_code=~"5.."}"#,
    buckets: "envoy_cluster_upstream_rq_time_bucket{$selector}",
    millis: true,
    tracks: Tracks::Labels {
        baseline: r#"envoy_cluster_name="<namespace>_<service>_<port>""#,
        canary: r#"envoy_cluster_name="<namespace>_<service>-canary_<port>""#,
    },
    recognise_by: &[
        "envoy_cluster_upstream_rq",
        "envoy_cluster_upstream_rq_time_bucket",
    ],
    checked: "envoyproxy.io cluster stats (v1.30); fluxcd/flagger observers/contour.go",
    note: "cluster names are Contour's (<namespace>_<service>_<port>); other control planes name clusters their own way",
};

/// Checked against: Traefik v3's Prometheus metrics reference (doc.traefik.io "Metrics
/// Overview": `traefik_service_requests_total` with `code`, `method`, `protocol`, `service`;
/// `traefik_service_request_duration_seconds` histogram) and Flagger's
/// `pkg/metrics/observers/traefik.go` (fluxcd/flagger: `service=~"<ns>-<target>-canary-…"`).
pub static TRAEFIK: Preset = Preset {
    name: "traefik",
    about: "Traefik services (traefik_service_requests_total{code}, traefik_service_request_duration_seconds)",
    total: "traefik_service_requests_total{$selector}",
    errors: r#"traefik_service_requests_total{$selector, code=~"5.."}"#,
    buckets: "traefik_service_request_duration_seconds_bucket{$selector}",
    millis: false,
    tracks: Tracks::Labels {
        baseline: r#"service="<namespace>-<service>-<port>@kubernetes""#,
        canary: r#"service="<namespace>-<service>-canary-<port>@kubernetes""#,
    },
    recognise_by: &[
        "traefik_service_requests_total",
        "traefik_service_request_duration_seconds_bucket",
    ],
    checked: "doc.traefik.io v3 metrics overview; fluxcd/flagger observers/traefik.go",
    note: "service metrics need metrics.prometheus.addServicesLabels (on by default); the provider suffix is @kubernetes (Ingress) or @kubernetescrd",
};
