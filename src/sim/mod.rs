//! The simulator behind `demo` and `simulate`: a baseline and a canary service with seeded noise,
//! a rollout driven by a small controller, and the metrics both produce. It is a backend and a
//! metrics source like any other (see `backend.rs` and `source.rs`), and `server.rs` serves it
//! over HTTP (/metrics in the exposition format, and the deploy API).
//!
//! One job per file: `simulator.rs` the clock that drives the rest, `traffic.rs` the requests,
//! latencies and errors per track, `controller.rs` the rollout's steps and the controller's
//! decisions, `history.rs` the last hour and what is read from it, `measures.rs` the metric and
//! counter names, `slo.rs` the service's SLO, `fleet.rs` many independent simulators for
//! `simulate --fleet`. This file only names the public face.

pub mod backend;
mod controller;
pub mod demo;
pub mod exposition;
pub mod fleet;
pub mod histogram;
mod history;
pub mod instrumentation;
mod measures;
pub mod scenario;
pub mod server;
mod simulator;
mod slo;
pub mod source;
#[cfg(test)]
mod test_support;
mod traffic;

pub use controller::{CANARY_HASH, STABLE_HASH};
pub use fleet::Fleet;
pub use instrumentation::Instrumentation;
pub use measures::{
    ERRORS_COUNTER, LATENCY_BUCKETS_COUNTER, REQUESTS_COUNTER, SimCounter, SimMetric, Totals,
    TrackPoint,
};
pub use scenario::Scenario;
pub use simulator::{SERVICE_RPS, SimOptions, Simulator};
pub use slo::slo;
pub use traffic::METRIC_WINDOW_SECS;
