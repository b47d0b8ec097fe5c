//! The cache: every Rollout a live namespace watch has listed or seen since, by namespace and
//! name, and when that watch last confirmed them. `get` and `list` answer from it; nothing in it
//! is served once the watch has been silent for `WATCH_SILENCE` or has stopped.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::Instant;

use super::ArgoReader;
use super::watch::WATCH_SILENCE;

#[derive(Debug, Default)]
pub(super) struct Cache {
    namespaces: HashMap<String, Watched>,
}

#[derive(Debug)]
struct Watched {
    objects: HashMap<String, Value>,
    /// The last LIST, event or bookmark of this namespace's watch.
    confirmed: Instant,
}

impl Cache {
    fn live(&self, namespace: &str) -> Option<&Watched> {
        self.namespaces
            .get(namespace)
            .filter(|w| w.confirmed.elapsed() < WATCH_SILENCE)
    }
}

impl ArgoReader {
    fn with_cache<T>(&self, f: impl FnOnce(&mut Cache) -> T) -> T {
        f(&mut self.cache.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The watched object, while its namespace's watch is live.
    pub(super) fn cached(&self, namespace: &str, name: &str) -> Option<Value> {
        self.with_cache(|c| c.live(namespace)?.objects.get(name).cloned())
    }

    /// The names in a live namespace watch (its whole selected set).
    pub(super) fn cached_names(&self, namespace: &str) -> Option<Vec<String>> {
        self.with_cache(|c| Some(c.live(namespace)?.objects.keys().cloned().collect()))
    }

    /// A LIST: the namespace's whole set, replacing what was there.
    pub(super) fn relisted(&self, namespace: &str, objects: HashMap<String, Value>) {
        self.with_cache(|c| {
            c.namespaces.insert(
                namespace.to_string(),
                Watched {
                    objects,
                    confirmed: Instant::now(),
                },
            )
        });
    }

    /// A watch event: the object as it is now (`None`: deleted).
    pub(super) fn remember(&self, namespace: &str, name: &str, object: Option<Value>) {
        self.with_cache(|c| {
            if let Some(w) = c.namespaces.get_mut(namespace) {
                w.confirmed = Instant::now();
                match object {
                    Some(object) => w.objects.insert(name.to_string(), object),
                    None => w.objects.remove(name),
                };
            }
        });
    }

    /// Between watches a change may go unseen: nothing of the namespace is served.
    pub(super) fn forget(&self, namespace: &str) {
        self.with_cache(|c| c.namespaces.remove(namespace));
    }

    /// After our own patch: the API's answer is newer than the watch's copy until the watch
    /// delivers it, and the console re-reads at once.
    pub(super) fn patched(&self, namespace: &str, name: &str, object: &Value) {
        self.with_cache(|c| {
            if let Some(o) = c
                .namespaces
                .get_mut(namespace)
                .and_then(|w| w.objects.get_mut(name))
            {
                *o = object.clone();
            }
        });
    }

    /// A bookmark: the watch is alive and nothing changed.
    pub(super) fn confirm(&self, namespace: &str) {
        self.with_cache(|c| {
            if let Some(w) = c.namespaces.get_mut(namespace) {
                w.confirmed = Instant::now();
            }
        });
    }
}
