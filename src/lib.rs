//! rollout-console: a terminal console for canary rollouts, judged against Prometheus-compatible
//! metrics. The architecture (pollers → messages → update → model → view, and which layer may
//! import which) is in README.md's Architecture section; `scripts/layers.py` checks the layers.

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
