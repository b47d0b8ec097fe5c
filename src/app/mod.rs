//! The Elm-style core: `Model` (state), `Msg` (what happened), a pure `update` that returns
//! `Effect`s, the keymap, and the runner that carries out effects. The terminal lives in `tui`.

pub mod check;
pub mod derived;
pub mod effect;
pub mod explain;
pub mod keymap;
pub mod model;
pub mod msg;
pub mod runner;
pub mod update;

pub use effect::Effect;
pub use model::{Model, Settings};
pub use msg::Msg;
pub use update::update;
