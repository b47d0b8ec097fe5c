//! The Elm-style core: `Model` (state), `Msg` (what happened), a pure `update` that returns
//! `Effect`s, the keymap, and the runtime that runs effects and owns the terminal.

pub mod check;
pub mod effect;
pub mod explain;
pub mod keymap;
pub mod model;
pub mod msg;
pub mod runtime;
pub mod update;

pub use effect::Effect;
pub use model::{Model, Settings};
pub use msg::Msg;
pub use update::update;
