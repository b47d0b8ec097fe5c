//! The runtime's side of a backend watch: `Effect::WatchRollout` subscribes once, every change
//! the backend reports becomes `Msg::RolloutChanged`, and a backend without a watch costs nothing.
//! Also the runner's limit on a metrics poll: the poll is answered with the timeout, and the
//! source's reads still finish (a fleet's grouped reads serve every member).

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

use rollout_console::app::runner::EffectRunner;
use rollout_console::app::{Effect, Msg};
use rollout_console::audit::AuditLog;
use rollout_console::backend::{BackendHandle, ReadError, RolloutReader};
use rollout_console::domain::Rollout;
use rollout_console::sim::source::SimMetrics;
use rollout_console::sim::{SimOptions, Simulator};

/// A reader whose `watch` hands out a receiver the test drives.
struct Watched {
    sender: Mutex<Option<watch::Sender<u64>>>,
    offers_watch: bool,
}

#[async_trait]
impl RolloutReader for Watched {
    fn describe(&self) -> String {
        "watched".into()
    }
    async fn list(&self) -> Result<Vec<String>, ReadError> {
        Ok(vec![])
    }
    async fn get(&self, name: &str) -> Result<Rollout, ReadError> {
        Err(ReadError::other(format!("no {name} here")))
    }
    fn watch(&self, _name: &str) -> Option<watch::Receiver<u64>> {
        if !self.offers_watch {
            return None;
        }
        let (tx, rx) = watch::channel(0);
        *self.sender.lock().expect("lock") = Some(tx);
        Some(rx)
    }
}

fn runner(reader: Arc<Watched>) -> (EffectRunner, mpsc::UnboundedReceiver<Msg>) {
    let sim = Arc::new(Mutex::new(Simulator::new(
        SimOptions::default(),
        chrono::Utc::now(),
    )));
    let (tx, rx) = mpsc::unbounded_channel();
    let dir = std::env::temp_dir().join("rollout-console-runtime-watch.jsonl");
    (
        EffectRunner {
            backend: BackendHandle::ReadOnly(reader),
            source: Arc::new(SimMetrics::new(sim)),
            audit: AuditLog::new(dir),
            notifier: None,
            tx,
        },
        rx,
    )
}

#[tokio::test]
async fn each_reported_change_becomes_a_re_read_message() {
    let reader = Arc::new(Watched {
        sender: Mutex::new(None),
        offers_watch: true,
    });
    let (runner, mut rx) = runner(reader.clone());
    runner.spawn(Effect::WatchRollout {
        name: "checkout".into(),
    });
    let sender = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(tx) = reader.sender.lock().expect("lock").clone() {
                break tx;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the runner subscribed");
    for n in 1..=3 {
        sender.send_replace(n);
        let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a message in time")
            .expect("channel open");
        assert!(
            matches!(msg, Msg::RolloutChanged(ref name) if name == "checkout"),
            "{msg:?}"
        );
    }
    // The backend's watch ends: the forwarding task ends with it, sending nothing more.
    drop(sender);
    *reader.sender.lock().expect("lock") = None;
    let more = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(more.is_err(), "nothing after the watch ended: {more:?}");
}

#[tokio::test]
async fn a_backend_without_a_watch_sends_nothing() {
    let reader = Arc::new(Watched {
        sender: Mutex::new(None),
        offers_watch: false,
    });
    let (runner, mut rx) = runner(reader);
    runner.spawn(Effect::WatchRollout {
        name: "checkout".into(),
    });
    let got = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(got.is_err(), "polling only: {got:?}");
}

/// A source whose poll takes 20 s, past the runner's 15 s limit, and says when it finished.
struct Slow {
    finished: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait]
impl rollout_console::metrics::MetricsSource for Slow {
    fn describe(&self) -> String {
        "slow".into()
    }
    async fn fetch(
        &self,
        _: &rollout_console::metrics::FetchRequest,
    ) -> rollout_console::metrics::FetchResult {
        tokio::time::sleep(Duration::from_secs(20)).await;
        self.finished
            .store(true, std::sync::atomic::Ordering::SeqCst);
        rollout_console::metrics::FetchResult::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_poll_past_the_limit_is_answered_with_the_timeout_and_its_reads_still_finish() {
    let (mut runner, mut rx) = runner(Arc::new(Watched {
        sender: Mutex::new(None),
        offers_watch: false,
    }));
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    runner.source = Arc::new(Slow {
        finished: finished.clone(),
    });
    let request = || rollout_console::metrics::FetchRequest {
        now: chrono::Utc::now(),
        lookback: Duration::from_secs(600),
        step: Duration::from_secs(5),
        metrics: vec![rollout_console::metrics::MetricQuery {
            name: "p95 latency".into(),
            query: "q".into(),
            window: None,
            counts: None,
        }],
        slos: vec![],
        tracks: None,
        priority: rollout_console::metrics::Priority::Open,
        rollout: None,
    };
    runner.spawn(Effect::FetchMetrics {
        generation: 7,
        request: request(),
        first: false,
    });
    let Some(Msg::MetricsFetched {
        generation, result, ..
    }) = rx.recv().await
    else {
        panic!("a metrics answer")
    };
    assert_eq!(generation, 7);
    let why = result.metrics[0].1.as_ref().expect_err("timed out");
    assert!(why.contains("within 15s"), "{why}");
    assert!(!finished.load(std::sync::atomic::Ordering::SeqCst));
    // Five seconds later the source's poll has finished (given up, it would never).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(finished.load(std::sync::atomic::Ordering::SeqCst));
    // A rollout's first poll (whole histories to read) is given 60 s: its answer comes.
    runner.spawn(Effect::FetchMetrics {
        generation: 8,
        request: request(),
        first: true,
    });
    let Some(Msg::MetricsFetched { result, .. }) = rx.recv().await else {
        panic!("a metrics answer")
    };
    assert!(result.metrics.is_empty(), "{:?}", result.metrics);
}
