//! The watch: LIST for a resourceVersion, WATCH from it, keep the reader's cache of Rollout
//! objects current and tell the console when something changed; re-list with a back-off.

use futures::StreamExt;
use kube::Api;
use kube::api::{DynamicObject, ListParams, WatchEvent, WatchParams};
use std::time::{Duration, Instant};
use tokio::sync::watch;

use super::client::rollout_resource;
use super::{ArgoReader, describe_error};

/// How long the server keeps one watch open; then the watcher re-lists, which also refreshes the
/// cached object.
pub(super) const WATCH_TIMEOUT_SECS: u32 = 60;
/// Longer than any healthy watch cycle: a read silent for this long is a dead connection, and a
/// cached object not confirmed for this long is not served.
pub(super) const WATCH_SILENCE: Duration = Duration::from_secs(WATCH_TIMEOUT_SECS as u64 + 30);
/// A watch cycle that lasted this long was healthy: the next one starts without backing off.
const WATCH_HEALTHY: Duration = Duration::from_secs(10);
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(30);

impl ArgoReader {
    /// Watches one rollout until `changes` has no receiver: LIST (by name) for a resourceVersion,
    /// WATCH from it, bump the counter on every change; on 410 Gone, the end of the stream or an
    /// error, forget the cached object and start over with a LIST. Back-off: 1s, doubling to 30s,
    /// unless the last watch lasted (then 200ms: the server ends each one after a minute).
    pub(super) async fn watch_loop(self, name: String, changes: watch::Sender<u64>) {
        // The resourceVersion of the object as last seen (`Some(None)`: absent), to tell whether
        // a re-list found a change the watch missed.
        let mut seen: Option<Option<String>> = None;
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                () = changes.closed() => break,
                outcome = self.watch_cycle(&name, &changes, &mut seen) => outcome,
            };
            // Between cycles a change may go unseen: `get` reads the API again.
            self.remember(&name, None);
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
                Ok(()) => tracing::debug!(rollout = %name, ?delay, "watch ended; re-listing"),
                Err(e) => {
                    tracing::warn!(rollout = %name, error = %e, ?delay, "watch failed; re-listing")
                }
            }
            tokio::select! {
                () = changes.closed() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
        self.remember(&name, None);
        tracing::debug!(rollout = %name, "watch stopped: nobody listens");
    }

    /// One LIST and one WATCH. `Ok` when the server ended the watch, `Err` on anything else.
    pub(super) async fn watch_cycle(
        &self,
        name: &str,
        changes: &watch::Sender<u64>,
        seen: &mut Option<Option<String>>,
    ) -> Result<(), String> {
        let bump = || changes.send_modify(|n| *n = n.wrapping_add(1));
        let c = self.connection().await?;
        let by_name = format!("metadata.name={name}");
        let api: Api<DynamicObject> =
            Api::namespaced_with(c.client.clone(), &c.namespace, &rollout_resource());
        let list = api
            .list(&ListParams::default().fields(&by_name))
            .await
            .map_err(|e| format!("list: {}", describe_error(&e)))?;
        let version = list.metadata.resource_version.unwrap_or_default();
        let object = list
            .items
            .into_iter()
            .find(|o| o.metadata.name.as_deref() == Some(name));
        let now_seen = object
            .as_ref()
            .map(|o| o.metadata.resource_version.clone().unwrap_or_default());
        if seen.is_some() && *seen != Some(now_seen.clone()) {
            bump();
        }
        *seen = Some(now_seen);
        self.remember(name, object.and_then(|o| serde_json::to_value(o).ok()));

        let api: Api<DynamicObject> =
            Api::namespaced_with(c.watch_client.clone(), &c.namespace, &rollout_resource());
        let params = WatchParams::default()
            .fields(&by_name)
            .timeout(WATCH_TIMEOUT_SECS);
        let mut events = Box::pin(
            api.watch(&params, &version)
                .await
                .map_err(|e| format!("watch: {}", describe_error(&e)))?,
        );
        while let Some(event) = events.next().await {
            match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => {
                    *seen = Some(Some(
                        o.metadata.resource_version.clone().unwrap_or_default(),
                    ));
                    self.remember(name, serde_json::to_value(o).ok());
                    bump();
                }
                Ok(WatchEvent::Deleted(_)) => {
                    *seen = Some(None);
                    self.remember(name, None);
                    bump();
                }
                Ok(WatchEvent::Bookmark(_)) => self.confirm(name),
                // 410 Gone (the version is too old) and the like: start over from a LIST.
                Ok(WatchEvent::Error(s)) => {
                    return Err(format!("the watch answered {}: {}", s.code, s.message));
                }
                Err(e) => return Err(format!("watch: {}", describe_error(&e))),
            }
        }
        Ok(())
    }
}
