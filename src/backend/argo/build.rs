//! `kind = "argo"` from its settings: the reader alone when read-only (it has no method that
//! patches), else the controller over it.

use super::{ArgoController, ArgoReader, ArgoSettings};
use crate::backend::BackendHandle;

/// Nothing is contacted here: the client is built on first use, inside the runtime.
pub fn build(settings: ArgoSettings, read_only: bool) -> BackendHandle {
    BackendHandle::new(ArgoReader::new(settings), read_only, ArgoController::new)
}
