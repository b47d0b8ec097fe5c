//! How many fleet rows' metrics answers may be alive at once: fetched, queued as a `Msg`, not
//! yet applied. Every member of a fleet polls at the same step and its answer is built in
//! milliseconds (the grouped reads are shared), while `update` judges each one in turn; without
//! a bound all 50 answers, each with up to `MAX_BLOCKS` counted blocks, waited in the queue at
//! once, and that burst was the largest part of a fleet console's memory.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Row answers alive at once; the open rollout's never wait for one.
pub const ROW_ANSWERS_AT_ONCE: usize = 8;

/// The runner's side: a row's poll takes a slot before it fetches.
#[derive(Debug, Clone)]
pub struct RowSlots(Arc<Semaphore>);

impl Default for RowSlots {
    fn default() -> Self {
        Self(Arc::new(Semaphore::new(ROW_ANSWERS_AT_ONCE)))
    }
}

impl RowSlots {
    /// Waits for a free slot; `Held(None)` only if the slots were closed (never, here).
    pub async fn take(&self) -> Held {
        Held {
            _slot: self.0.clone().acquire_owned().await.ok().map(Arc::new),
        }
    }

    /// Slots free now.
    pub fn free(&self) -> usize {
        self.0.available_permits()
    }
}

/// A slot held by an answer until its `Msg` is applied and dropped.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// Kept only to be dropped with the message.
    _slot: Option<Arc<OwnedSemaphorePermit>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_is_free_again_when_the_answer_holding_it_is_dropped() {
        let slots = RowSlots::default();
        let mut held = Vec::new();
        for _ in 0..ROW_ANSWERS_AT_ONCE {
            held.push(slots.take().await);
        }
        assert_eq!(slots.free(), 0);
        // A ninth waits until one of the eight answers is gone.
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), slots.take());
        assert!(waiting.await.is_err(), "a ninth answer did not wait");
        let copy = held[0].clone();
        drop(held.swap_remove(0));
        assert_eq!(
            slots.free(),
            0,
            "a clone of the message still holds its slot"
        );
        drop(copy);
        assert_eq!(slots.free(), 1);
        let _ninth = slots.take().await;
        assert_eq!(slots.free(), 0);
    }
}
