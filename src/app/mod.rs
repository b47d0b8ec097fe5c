//! The Elm-style core: `Model` (state), `Msg` (what happened), a pure `update` that returns
//! `Effect`s (`update/`: polling, the rollout's answer, the metrics' answer, actions and their
//! receipts), the keymap, the runner that carries out effects, and `check/` (the headless gate:
//! its report and its run). The terminal lives in `tui`.

pub mod check;
pub mod derived;
pub mod effect;
pub mod explain;
pub mod explain_report;
pub mod fleet;
pub mod init;
pub mod keymap;
pub mod model;
pub mod msg;
pub mod runner;
pub mod update;

pub use effect::Effect;
pub use model::{Model, Settings};
pub use msg::Msg;
pub use update::update;
