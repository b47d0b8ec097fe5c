//! The demo's scenarios: what the canary does differently, and when.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Healthy,
    LatencyRegression,
    ErrorSpike,
    SlowBurn,
    MildLatency,
}

pub const ALL: [Scenario; 5] = [
    Scenario::Healthy,
    Scenario::LatencyRegression,
    Scenario::ErrorSpike,
    Scenario::SlowBurn,
    Scenario::MildLatency,
];

/// How one track behaves at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Median latency in seconds; the log-normal's shape is shared.
    pub median_latency: f64,
    pub error_ratio: f64,
}

pub const LATENCY_SIGMA: f64 = 0.5;
/// Median 80 ms with σ 0.5 gives p95 ≈ 182 ms and p99 ≈ 256 ms.
pub const BASE: Behaviour = Behaviour {
    median_latency: 0.080,
    error_ratio: 0.0002,
};

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::LatencyRegression => "latency-regression",
            Self::ErrorSpike => "error-spike",
            Self::SlowBurn => "slow-burn",
            Self::MildLatency => "mild-latency",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Healthy => "the canary behaves like the baseline; the rollout walks to 100%",
            Self::LatencyRegression => {
                "canary latency +40% once it reaches 25%; the judge fails it within seconds and the \
                 controller's p95 check holds the rollout"
            }
            Self::ErrorSpike => "canary 5xx jumps to 4% at 25%; the controller rolls back",
            Self::SlowBurn => {
                "canary 5xx at 0.25% (12× the baseline's): under the 1% ceiling, but the error budget \
                 (12% left) keeps burning and the judge fails it on counts within a minute or so"
            }
            Self::MildLatency => {
                "canary latency +20% from its first step (5%), errors unchanged; the p95 gate \
                 (+10%) holds it at 5%, or at 25% if noise lets one check pass"
            }
        }
    }

    /// The canary's behaviour at a given step index.
    pub fn canary(self, step: usize) -> Behaviour {
        match self {
            Self::Healthy => BASE,
            Self::LatencyRegression if step >= 1 => Behaviour {
                median_latency: BASE.median_latency * 1.4,
                ..BASE
            },
            Self::ErrorSpike if step >= 1 => Behaviour {
                error_ratio: 0.04,
                ..BASE
            },
            Self::SlowBurn => Behaviour {
                error_ratio: 0.0025,
                ..BASE
            },
            Self::MildLatency => Behaviour {
                median_latency: BASE.median_latency * 1.2,
                ..BASE
            },
            _ => BASE,
        }
    }

    /// The service's error ratio over the days before the demo started (for the long SLO windows).
    pub fn prior_error_ratio(self) -> f64 {
        match self {
            Self::SlowBurn => 0.0006,
            _ => BASE.error_ratio,
        }
    }

    /// Share of the 30-day budget spent before the demo started.
    pub fn prior_budget_spent(self) -> f64 {
        match self {
            Self::SlowBurn => 0.88,
            _ => 0.38,
        }
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.into_iter().find(|sc| sc.name() == s).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|s| s.name()).collect();
            format!(
                "unknown scenario {s:?}; expected one of: {}",
                names.join(", ")
            )
        })
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
