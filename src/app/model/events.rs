//! The event log's entries: when, how it reads (`EventLevel`) and what happened.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventLevel {
    Info,
    Good,
    Warn,
    Bad,
    Action,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub text: String,
}
