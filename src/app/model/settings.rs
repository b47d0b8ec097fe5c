//! What the console was started with (`Settings`) and the chart's time window.

use std::time::Duration;

/// What the console was started with; fixed for its lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rollout_name: String,
    pub read_only: bool,
    pub poll_interval: Duration,
    pub min_budget_to_promote_pct: f64,
    /// `$USER@host`.
    pub actor: String,
    pub ssh_client: Option<String>,
    /// e.g. "simulator (healthy, seed 7)".
    pub source_label: String,
    /// Where receipts go, for the help overlay.
    pub audit_path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartWindow {
    M5,
    M15,
    H1,
}

impl ChartWindow {
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Self::M5 => 300,
            Self::M15 => 900,
            Self::H1 => 3600,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::H1 => "1h",
        }
    }

    pub fn next(self) -> Self {
        match self {
            Self::M5 => Self::M15,
            Self::M15 => Self::H1,
            Self::H1 => Self::M5,
        }
    }
}
