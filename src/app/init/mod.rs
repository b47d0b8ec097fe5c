//! `rollout-console init`, its pure parts: what the series say (`discover`) and the config text
//! (`render`). `setup::init` reads Prometheus, runs `explain` on the result and writes the file.

pub mod discover;
pub mod render;
