//! Simulated traffic, one 1-second tick at a time, summed into 10-second polls.
//!
//! Every tick: a load factor shared by both tracks (a slow sinusoid plus a mean-reverting walk,
//! clamped to ×0.6…×1.4) scales both tracks' Poisson arrival rates, and nudges both tracks'
//! latency (median × load^0.2) and error ratio (× load^0.5) as real load does. Each request's
//! latency is log-normal (median 80 ms, σ 0.5 or 1.0) and lands in the fine bucket set (the
//! default set is a coarsening of it, so one draw serves both); one uniform decides whether it
//! failed at each base error ratio (1% and 5%). Per-request draws are an exact multinomial.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson, StandardNormal};

/// Prometheus's default buckets (`DefBuckets` of client_golang), then `+Inf`.
pub const DEFAULT_BOUNDS: [f64; 12] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];
/// The default buckets plus 0.075, 0.15, 0.2, 0.3, 0.4 and 0.75: finer where the latencies live.
pub const FINE_BOUNDS: [f64; 18] = [
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
    f64::INFINITY,
];
pub const FINE: usize = FINE_BOUNDS.len();
pub const POLL_SECS: usize = 10;
pub const MEDIAN: f64 = 0.080;
/// The base error ratios, judged as separate metrics of the same runs.
pub const ERROR_BASES: [f64; 2] = [0.01, 0.05];
pub const BASELINE: usize = 0;
pub const CANARY: usize = 1;

/// Per-pod effects: median × exp(N(0, POD_LATENCY_SD)), error ratio × exp(N(0, POD_ERROR_SD)).
const POD_LATENCY_SD: f64 = 0.03;
const POD_ERROR_SD: f64 = 0.2;
/// A burst (shared or pod-local) starts with this chance per second and lasts 3–10 s, latency ×2,
/// error ratio ×3.
const SHARED_BURST_CHANCE: f64 = 1.0 / 300.0;
const POD_BURST_CHANCE: f64 = 1.0 / 600.0;
/// A new pod's latency × (1 + e^(−age/τ)), error ratio × (1 + 2 e^(−age/τ)).
const COLD_TAU_SECS: f64 = 15.0;
/// The steps of the stepped A/A: canary pods of 20 from each start (5%, 25%, 50%).
pub const STEPS: [(usize, usize); 3] = [(0, 1), (1200, 5), (2400, 10)];
const PODS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Requests independent given the shared load: the sequential judge's own assumption.
    Independent,
    /// 2% of requests (both tracks) take ×5 longer.
    HeavyTail,
    /// Both tracks slow down ×2 (errors ×3) together for 3–10 s, every 5 min on average.
    SharedBursts,
    /// A/A with over-dispersion: 19 baseline pods and 1 canary pod, each with its own median
    /// and error ratio, and pod-local bursts.
    PerPod,
    /// The same without the pod-local bursts: per-pod effects alone.
    PerPodQuiet,
    /// The same with steps of 5/25/50% at 0, 20 and 40 min, and the new canary pods of each step
    /// starting cold.
    PerPodSteps,
    /// 99 vs 1 rps.
    LowCanary,
}

impl Noise {
    pub fn label(self) -> &'static str {
        match self {
            Self::Independent => "independent",
            Self::HeavyTail => "heavy tail",
            Self::SharedBursts => "shared bursts",
            Self::PerPod => "A/A per-pod",
            Self::PerPodQuiet => "A/A per-pod, no bursts",
            Self::PerPodSteps => "A/A per-pod, steps 5/25/50%",
            Self::LowCanary => "low canary (1 rps)",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Independent => {
                "95 vs 5 rps Poisson under a shared load swing; requests independent given the load"
            }
            Self::HeavyTail => "as independent, and 2% of all requests (both tracks) ×5 slower",
            Self::SharedBursts => {
                "as independent, and both tracks ×2 slower, errors ×3, for 3–10 s every ~5 min"
            }
            Self::PerPod => {
                "A/A: 19 baseline pods and 1 canary pod (5 rps each); per pod median × e^N(0,0.03), \
                 error ratio × e^N(0,0.2), drawn once per run; pod-local bursts (×2 latency, ×3 errors, \
                 3–10 s, every ~10 min per pod)"
            }
            Self::PerPodQuiet => "as A/A per-pod without the pod-local bursts",
            Self::PerPodSteps => {
                "as A/A per-pod, with steps of 5/25/50% (1, 5, 10 canary pods of 20) at 0, 20 and \
                 40 min; the new canary pods of each step start cold (latency ×2, errors ×3, decaying \
                 with τ = 15 s: ×1.5 at 10 s, ×1.02 at 60 s)"
            }
            Self::LowCanary => "as independent at 99 vs 1 rps",
        }
    }

    /// When each step starts, in seconds from the canary's start.
    pub fn step_starts(self) -> Vec<usize> {
        match self {
            Self::PerPodSteps => STEPS.iter().map(|s| s.0).collect(),
            _ => vec![0],
        }
    }

    fn per_pod(self) -> bool {
        matches!(self, Self::PerPod | Self::PerPodQuiet | Self::PerPodSteps)
    }

    pub fn is_aa(self) -> bool {
        self.per_pod()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub noise: Noise,
    pub sigma: f64,
    /// Every canary latency × this (1 = healthy).
    pub latency_factor: f64,
    /// The canary's error ratio × this.
    pub error_factor: f64,
    pub polls: usize,
}

/// One poll's counts per track (`[baseline, canary]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Poll {
    /// Requests per fine bucket (not cumulative).
    pub latency: [[u32; FINE]; 2],
    /// Failed requests at each base error ratio.
    pub failed: [[u32; ERROR_BASES.len()]; 2],
    pub requests: [u32; 2],
}

pub struct Run {
    pub polls: Vec<Poll>,
}

struct Pod {
    track: usize,
    ln_offset: f64,
    error_factor: f64,
    /// Second it started (cold start); `None` for a long-running pod.
    born: Option<usize>,
    burst_left: u32,
}

impl Pod {
    fn plain(track: usize) -> Self {
        Self {
            track,
            ln_offset: 0.0,
            error_factor: 1.0,
            born: None,
            burst_left: 0,
        }
    }

    fn drawn(rng: &mut ChaCha8Rng, track: usize, born: Option<usize>) -> Self {
        let z1: f64 = rng.sample(StandardNormal);
        let z2: f64 = rng.sample(StandardNormal);
        Self {
            track,
            ln_offset: POD_LATENCY_SD * z1,
            error_factor: (POD_ERROR_SD * z2).exp(),
            born,
            burst_left: 0,
        }
    }
}

/// The shared load factor: 1 + 0.25 sin(2πt/P + φ) + an Ornstein–Uhlenbeck walk (sd ≈ 0.08,
/// 2 min), clamped to 0.6…1.4; P is 15–40 min.
struct Load {
    period: f64,
    phase: f64,
    walk: f64,
}

impl Load {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        Self {
            period: rng.random_range(900.0..2400.0),
            phase: rng.random_range(0.0..std::f64::consts::TAU),
            walk: 0.0,
        }
    }

    fn next(&mut self, rng: &mut ChaCha8Rng, t: usize) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        self.walk = self.walk * (1.0 - 1.0 / 120.0) + 0.01 * z;
        let wave = 0.25 * (std::f64::consts::TAU * t as f64 / self.period + self.phase).sin();
        (1.0 + wave + self.walk).clamp(0.6, 1.4)
    }
}

fn burst(rng: &mut ChaCha8Rng, left: &mut u32, chance: f64) -> bool {
    if *left == 0 && rng.random::<f64>() < chance {
        *left = rng.random_range(3..=10);
    }
    if *left > 0 {
        *left -= 1;
        true
    } else {
        false
    }
}

fn poisson(rng: &mut ChaCha8Rng, rate: f64) -> u32 {
    if rate <= 0.0 {
        return 0;
    }
    Poisson::new(rate).map_or(0, |p| p.sample(rng) as u32)
}

/// Simulate one run.
pub fn simulate(sc: &Scenario, rng: &mut ChaCha8Rng) -> Run {
    let ln_bounds: Vec<f64> = FINE_BOUNDS[..FINE - 1].iter().map(|b| b.ln()).collect();
    let mut load = Load::new(rng);
    let mut shared_left = 0u32;
    let (rate_baseline, rate_canary) = match sc.noise {
        Noise::LowCanary => (99.0, 1.0),
        _ => (95.0, 5.0),
    };
    let mut pods: Vec<Pod> = if sc.noise.per_pod() {
        let canary_pods = STEPS[0].1;
        let mut pods: Vec<Pod> = (0..PODS - canary_pods)
            .map(|_| Pod::drawn(rng, BASELINE, None))
            .collect();
        // Only the stepped runs model cold starts: the plain A/A is over-dispersion alone.
        let born = (sc.noise == Noise::PerPodSteps).then_some(0);
        pods.extend((0..canary_pods).map(|_| Pod::drawn(rng, CANARY, born)));
        pods
    } else {
        vec![Pod::plain(BASELINE), Pod::plain(CANARY)]
    };
    let per_pod_rate = 100.0 / PODS as f64;
    let ln_median = MEDIAN.ln();
    let ln_canary = sc.latency_factor.ln();
    let mut polls = Vec::with_capacity(sc.polls);
    let mut current = Poll::default();
    // Per pod, this second: ln median and error factor.
    let mut ln_mu: Vec<f64> = Vec::new();
    let mut err: Vec<f64> = Vec::new();
    let mut members: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for t in 0..sc.polls * POLL_SECS {
        let l = load.next(rng, t);
        if sc.noise == Noise::PerPodSteps
            && let Some(&(_, canary_pods)) = STEPS.iter().find(|s| s.0 == t && t > 0)
        {
            let have = pods.iter().filter(|p| p.track == CANARY).count();
            for _ in have..canary_pods {
                // A baseline pod goes, a new canary pod comes.
                if let Some(i) = pods.iter().rposition(|p| p.track == BASELINE) {
                    pods.remove(i);
                }
                pods.push(Pod::drawn(rng, CANARY, Some(t)));
            }
        }
        let shared =
            sc.noise == Noise::SharedBursts && burst(rng, &mut shared_left, SHARED_BURST_CHANCE);
        ln_mu.clear();
        err.clear();
        for pod in &mut pods {
            let mut ln = ln_median + 0.2 * l.ln() + pod.ln_offset;
            let mut e = l.sqrt() * pod.error_factor;
            if shared {
                ln += std::f64::consts::LN_2;
                e *= 3.0;
            }
            if sc.noise.per_pod() {
                if sc.noise != Noise::PerPodQuiet
                    && burst(rng, &mut pod.burst_left, POD_BURST_CHANCE)
                {
                    ln += std::f64::consts::LN_2;
                    e *= 3.0;
                }
                if let Some(born) = pod.born {
                    let cold = (-((t - born) as f64) / COLD_TAU_SECS).exp();
                    ln += cold.ln_1p();
                    e *= 1.0 + 2.0 * cold;
                }
            }
            if pod.track == CANARY {
                ln += ln_canary;
                e *= sc.error_factor;
            }
            ln_mu.push(ln);
            err.push(e);
        }
        for (track, m) in members.iter_mut().enumerate() {
            m.clear();
            m.extend((0..pods.len()).filter(|i| pods[*i].track == track));
        }
        for (track, m) in members.iter().enumerate() {
            let rate = if sc.noise.per_pod() {
                per_pod_rate * m.len() as f64
            } else if track == BASELINE {
                rate_baseline
            } else {
                rate_canary
            };
            let n = poisson(rng, rate * l);
            current.requests[track] += n;
            for _ in 0..n {
                let pod = if m.len() > 1 {
                    m[rng.random_range(0..m.len())]
                } else {
                    m[0]
                };
                let z: f64 = rng.sample(StandardNormal);
                let mut x = ln_mu[pod] + sc.sigma * z;
                if sc.noise == Noise::HeavyTail && rng.random::<f64>() < 0.02 {
                    x += 5f64.ln();
                }
                let bucket = ln_bounds.partition_point(|b| *b < x);
                current.latency[track][bucket] += 1;
                let u: f64 = rng.random();
                for (k, base) in ERROR_BASES.iter().enumerate() {
                    if u < base * err[pod] {
                        current.failed[track][k] += 1;
                    }
                }
            }
        }
        if (t + 1) % POLL_SECS == 0 {
            polls.push(current);
            current = Poll::default();
        }
    }
    Run { polls }
}

/// For each fine bucket, the default bucket it falls in.
pub fn fine_to_default() -> [usize; FINE] {
    let mut map = [0; FINE];
    for (i, b) in FINE_BOUNDS.iter().enumerate() {
        map[i] = DEFAULT_BOUNDS.partition_point(|d| d < b);
    }
    map
}
