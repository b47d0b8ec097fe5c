//! rollout-console: a terminal console for canary rollouts, judged against Prometheus-compatible
//! metrics. See DEVELOPERS.md for the architecture: pollers → events → update → state → view.

pub mod app;
pub mod audit;
pub mod backend;
pub mod cli;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod notify;
pub mod paths;
pub mod setup;
pub mod sim;
pub mod tui;
pub mod ui;
