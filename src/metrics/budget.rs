//! The query budget: at most `max_queries_per_second` queries leave for the engine (with one
//! second's worth as a burst), and when queries queue, the open rollout's go first, then the
//! fleet rows that need attention, then the rest. A console left open on a fleet is then a
//! bounded load on the team's Prometheus, whatever the number of rollouts.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// `[prometheus] max_queries_per_second` when unset.
pub const DEFAULT_MAX_QUERIES_PER_SECOND: f64 = 20.0;

/// Who a query is for, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// The rollout on screen.
    Open,
    /// A fleet row that needs a human (rollback advised, paused, unreadable).
    Attention,
    /// Every other row, and slow-moving windows.
    Background,
}

impl Priority {
    const ALL: [Priority; 3] = [Priority::Open, Priority::Attention, Priority::Background];

    fn index(self) -> usize {
        self as usize
    }
}

/// A token bucket on seconds since some origin: pure, so its arithmetic is tested on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: f64,
}

impl TokenBucket {
    /// Full at the start: a burst of `burst` tokens, then `per_second`.
    pub fn new(per_second: f64, burst: f64, now: f64) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            DEFAULT_MAX_QUERIES_PER_SECOND
        };
        let burst = burst.max(1.0);
        Self {
            per_second,
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: f64) {
        if now > self.last {
            self.tokens = (self.tokens + (now - self.last) * self.per_second).min(self.burst);
            self.last = now;
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn try_take(&mut self, now: f64) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.per_second;
            Err(Duration::from_secs_f64(wait.max(0.000_1)))
        }
    }
}

#[derive(Debug)]
struct State {
    bucket: TokenBucket,
    waiting: [usize; 3],
    taken: [u64; 3],
}

/// The shared budget every query of one console draws from.
#[derive(Debug)]
pub struct QueryBudget {
    origin: Instant,
    state: Mutex<State>,
    changed: Notify,
}

impl QueryBudget {
    pub fn new(max_queries_per_second: f64) -> Self {
        Self {
            origin: Instant::now(),
            state: Mutex::new(State {
                bucket: TokenBucket::new(max_queries_per_second, max_queries_per_second, 0.0),
                waiting: [0; 3],
                taken: [0; 3],
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every field stays consistent between statements: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    /// Waits for a token; a query of a more urgent priority that is waiting goes first.
    pub async fn take(&self, priority: Priority) {
        let p = priority.index();
        self.state().waiting[p] += 1;
        // Give the place back if the query is dropped while waiting (e.g. a poll superseded).
        let mut guard = Waiting {
            budget: self,
            priority: p,
            done: false,
        };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = {
                let mut state = self.state();
                if state.waiting[..p].iter().any(|&n| n > 0) {
                    None
                } else {
                    match state.bucket.try_take(self.now()) {
                        Ok(()) => {
                            state.waiting[p] -= 1;
                            state.taken[p] += 1;
                            guard.done = true;
                            drop(state);
                            self.changed.notify_waiters();
                            return;
                        }
                        Err(wait) => Some(wait),
                    }
                }
            };
            match wait {
                Some(wait) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = &mut changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Queries let through so far, per priority (for the debug log and the benchmark).
    pub fn taken(&self) -> [(Priority, u64); 3] {
        let state = self.state();
        Priority::ALL.map(|p| (p, state.taken[p.index()]))
    }
}

struct Waiting<'a> {
    budget: &'a QueryBudget,
    priority: usize,
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.budget.state().waiting[self.priority] -= 1;
            self.budget.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(10.0, 10.0, 0.0);
        for _ in 0..10 {
            assert!(b.try_take(0.0).is_ok());
        }
        let wait = b.try_take(0.0).expect_err("empty");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9);
        assert!(b.try_take(0.1).is_ok());
        assert!(b.try_take(0.1).is_err());
        // Idle time does not save up more than the burst.
        for _ in 0..10 {
            assert!(b.try_take(100.0).is_ok());
        }
        assert!(b.try_take(100.0).is_err());
    }

    #[test]
    fn a_nonsense_rate_falls_back_to_the_default() {
        let b = TokenBucket::new(f64::NAN, 0.0, 0.0);
        assert_eq!(b.per_second, DEFAULT_MAX_QUERIES_PER_SECOND);
        assert_eq!(b.burst, 1.0);
    }

    /// 300 queries of mixed priorities at a budget of 20/s on tokio's paused clock: in every
    /// window of length T at most 20 + 20·T get through, and every `Open` query gets through
    /// before any `Background` one queued with it.
    #[tokio::test(start_paused = true)]
    async fn the_budget_is_never_exceeded_and_the_open_rollout_goes_first() {
        let budget = Arc::new(QueryBudget::new(20.0));
        // Spend the first burst, so that every query below queues before any token is there.
        for _ in 0..20 {
            budget.take(Priority::Background).await;
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..300 {
            let priority = Priority::ALL[i % 3];
            let budget = Arc::clone(&budget);
            tasks.push(tokio::spawn(async move {
                budget.take(priority).await;
                (priority, start.elapsed().as_secs_f64())
            }));
        }
        let mut through = Vec::new();
        for t in tasks {
            through.push(t.await.expect("task"));
        }
        let mut times: Vec<f64> = through.iter().map(|(_, t)| *t).collect();
        times.sort_by(f64::total_cmp);
        for (i, &a) in times.iter().enumerate() {
            for (j, &b) in times.iter().enumerate().skip(i) {
                let allowed = 20.0 + 20.0 * (b - a) + 1e-6;
                assert!(
                    (j - i + 1) as f64 <= allowed,
                    "{} queries in {:.3}s",
                    j - i + 1,
                    b - a
                );
            }
        }
        let last_open = through
            .iter()
            .filter(|(p, _)| *p == Priority::Open)
            .map(|(_, t)| *t)
            .fold(0.0, f64::max);
        let first_background = through
            .iter()
            .filter(|(p, _)| *p == Priority::Background)
            .map(|(_, t)| *t)
            .fold(f64::INFINITY, f64::min);
        assert!(
            last_open <= first_background,
            "open done at {last_open}, background began at {first_background}"
        );
        assert!(
            (times[299] - 15.0).abs() < 0.2,
            "300 at 20/s take 15s, took {}",
            times[299]
        );
        assert_eq!(budget.taken().map(|(_, n)| n), [100, 100, 120]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_waiter_gives_its_place_back() {
        let budget = Arc::new(QueryBudget::new(1.0));
        budget.take(Priority::Open).await;
        // An Open query that gives up must not block the Background one behind it for ever.
        let waiting = tokio::time::timeout(Duration::from_millis(10), budget.take(Priority::Open));
        assert!(waiting.await.is_err());
        let start = Instant::now();
        budget.take(Priority::Background).await;
        assert!(start.elapsed() <= Duration::from_secs(1));
    }
}
