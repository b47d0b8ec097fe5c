//! The watch: one LIST + WATCH per namespace for the whole selected set, shared by every
//! `watch(name)` in that namespace. It keeps the reader's cache (`cache.rs`) of that namespace's
//! Rollouts current, bumps a counter per rollout when it changes (each follower passes on only
//! its own rollout's), and re-lists with a back-off. N rollouts in M namespaces: M watches.

use futures::StreamExt;
use kube::Api;
use kube::api::{DynamicObject, ListParams, WatchEvent, WatchParams};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::{ArgoReader, describe_error, rollout_resource};

/// How long the server keeps one watch open; then the watcher re-lists, which also refreshes the
/// cached objects.
pub(super) const WATCH_TIMEOUT_SECS: u32 = 60;
/// Longer than any healthy watch cycle: a read silent for this long is a dead connection, and a
/// cached object not confirmed for this long is not served.
pub(super) const WATCH_SILENCE: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);
/// A watch cycle that lasted this long was healthy: the next one starts without backing off.
const WATCH_HEALTHY: Duration = Duration::from_secs(10);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// One namespace's change counters, by rollout name (absent: 0).
pub(super) type Counters = HashMap<String, u64>;
/// The running namespace watches, by namespace.
pub(super) type Watchers = HashMap<String, Arc<watch::Sender<Counters>>>;

fn bump(counters: &mut Counters, name: &str) {
    let n = counters.entry(name.to_string()).or_default();
    *n = n.wrapping_add(1);
}

impl ArgoReader {
    /// For one `watch(name)`: joins (or starts) the watch of the rollout's namespace and bumps
    /// `changes` whenever that rollout changed, until `changes` has no receiver.
    pub(super) async fn follow(self, name: String, changes: watch::Sender<u64>) {
        // A bare name needs the client (the home namespace): retried as a watch would be.
        let mut failures: u32 = 0;
        let (namespace, bare) = loop {
            match self.locate(&name).await {
                Ok(found) => break found,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let delay =
                        Duration::from_secs(1u64 << (failures - 1).min(5)).min(WATCH_BACKOFF_MAX);
                    tracing::warn!(rollout = %name, error = %e, ?delay, "cannot watch yet");
                    tokio::select! {
                        () = changes.closed() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        };
        let mut counters = self.join(&namespace);
        let count = |c: &Counters| c.get(&bare).copied().unwrap_or(0);
        let mut last = count(&counters.borrow_and_update());
        loop {
            tokio::select! {
                () = changes.closed() => break,
                changed = counters.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = count(&counters.borrow_and_update());
                    if now != last {
                        last = now;
                        changes.send_modify(|n| *n = n.wrapping_add(1));
                    }
                }
            }
        }
    }

    /// The namespace's counters, starting its watch when none runs.
    fn join(&self, namespace: &str) -> watch::Receiver<Counters> {
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = watchers.get(namespace) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(Counters::new());
        let sender = Arc::new(sender);
        watchers.insert(namespace.to_string(), sender.clone());
        tokio::spawn(self.clone().watch_loop(namespace.to_string(), sender));
        receiver
    }

    /// Nobody follows the namespace any more: `true` when its watch may stop (checked under the
    /// lock `join` takes, so a follower joining now is not left with a stopped watch).
    fn leave(&self, namespace: &str, counters: &watch::Sender<Counters>) -> bool {
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        if counters.receiver_count() > 0 {
            return false;
        }
        watchers.remove(namespace);
        true
    }

    /// Watches one namespace until nobody follows it: LIST (the whole selected set) for a
    /// resourceVersion, WATCH from it, bump a rollout's counter on its every change; on 410 Gone,
    /// the end of the stream or an error, forget the cached objects and start over with a LIST.
    /// Back-off: 1s, doubling to 30s, unless the last watch lasted (then 200ms: the server ends
    /// each one after a minute).
    async fn watch_loop(self, namespace: String, counters: Arc<watch::Sender<Counters>>) {
        // Each rollout's resourceVersion as last seen, to tell whether a re-list found a change
        // the watch missed (`None` before the first LIST).
        let mut seen: Option<HashMap<String, String>> = None;
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                () = counters.closed() => {
                    if self.leave(&namespace, &counters) {
                        break;
                    }
                    continue;
                }
                outcome = self.watch_cycle(&namespace, &counters, &mut seen) => outcome,
            };
            // Between cycles a change may go unseen: `get` reads the API again.
            self.forget(&namespace);
            failures = if started.elapsed() >= WATCH_HEALTHY {
                0
            } else {
                failures.saturating_add(1)
            };
            let delay = match failures {
                0 => Duration::from_millis(200),
                n => Duration::from_secs(1u64 << (n - 1).min(5)).min(WATCH_BACKOFF_MAX),
            };
            match outcome {
                Ok(()) => tracing::debug!(%namespace, ?delay, "watch ended; re-listing"),
                Err(e) => {
                    tracing::warn!(%namespace, error = %e, ?delay, "watch failed; re-listing")
                }
            }
            tokio::select! {
                () = counters.closed() => {
                    if self.leave(&namespace, &counters) {
                        break;
                    }
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.forget(&namespace);
        tracing::debug!(%namespace, "watch stopped: nobody follows it");
    }

    /// One LIST and one WATCH of the namespace. `Ok` when the server ended the watch, `Err` on
    /// anything else.
    async fn watch_cycle(
        &self,
        namespace: &str,
        counters: &watch::Sender<Counters>,
        seen: &mut Option<HashMap<String, String>>,
    ) -> Result<(), String> {
        let c = self.connection().await?;
        let mut list_params = ListParams::default();
        let mut watch_params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
        if let Some(selector) = &self.settings.selector {
            list_params = list_params.labels(selector);
            watch_params = watch_params.labels(selector);
        }
        let api: Api<DynamicObject> =
            Api::namespaced_with(c.client.clone(), namespace, &rollout_resource());
        let list = api
            .list(&list_params)
            .await
            .map_err(|e| format!("list in {namespace}: {}", describe_error(&e)))?;
        let version = list.metadata.resource_version.unwrap_or_default();
        let mut objects = HashMap::new();
        let mut versions = HashMap::new();
        for o in list.items {
            let Some(name) = o.metadata.name.clone() else {
                continue;
            };
            let rv = o.metadata.resource_version.clone().unwrap_or_default();
            if let Ok(v) = serde_json::to_value(o) {
                versions.insert(name.clone(), rv);
                objects.insert(name, v);
            }
        }
        if let Some(before) = seen.as_ref() {
            let changed: BTreeSet<&String> = before
                .keys()
                .chain(versions.keys())
                .filter(|n| before.get(*n) != versions.get(*n))
                .collect();
            if !changed.is_empty() {
                counters.send_modify(|c| changed.iter().for_each(|n| bump(c, n)));
            }
        }
        *seen = Some(versions);
        self.relisted(namespace, objects);

        let api: Api<DynamicObject> =
            Api::namespaced_with(c.watch_client.clone(), namespace, &rollout_resource());
        let mut events = Box::pin(
            api.watch(&watch_params, &version)
                .await
                .map_err(|e| format!("watch in {namespace}: {}", describe_error(&e)))?,
        );
        let named = |o: &DynamicObject| o.metadata.name.clone();
        while let Some(event) = events.next().await {
            match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    let Some(name) = named(&o) else { continue };
                    let rv = o.metadata.resource_version.clone().unwrap_or_default();
                    if let Some(seen) = seen.as_mut() {
                        seen.insert(name.clone(), rv);
                    }
                    let value: Option<Value> = serde_json::to_value(o).ok();
                    self.remember(namespace, &name, value);
                    counters.send_modify(|c| bump(c, &name));
                }
                Ok(WatchEvent::Deleted(o)) => {
                    let Some(name) = named(&o) else { continue };
                    if let Some(seen) = seen.as_mut() {
                        seen.remove(&name);
                    }
                    self.remember(namespace, &name, None);
                    counters.send_modify(|c| bump(c, &name));
                }
                Ok(WatchEvent::Bookmark(_)) => self.confirm(namespace),
                // 410 Gone (the version is too old) and the like: start over from a LIST.
                Ok(WatchEvent::Error(s)) => {
                    return Err(format!("the watch answered {}: {}", s.code, s.message));
                }
                Err(e) => return Err(format!("watch in {namespace}: {}", describe_error(&e))),
            }
        }
        Ok(())
    }
}
