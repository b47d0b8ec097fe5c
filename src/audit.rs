//! Append-only JSON Lines receipts of every action the console attempted, and its outcome.
//! Each line is written and fsynced before the UI reports the result.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The verdict of one metric at the moment of decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub metric: String,
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<f64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// RFC 3339, UTC.
    pub time: DateTime<Utc>,
    /// `$USER@host`.
    pub actor: String,
    /// The SSH client address when the console runs over SSH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_client: Option<String>,
    pub rollout: String,
    /// `promote`, `pause`, `resume`, `rollback`, or `gate_override` (a `check --override-reason`).
    pub action: String,
    pub from_step: usize,
    pub from_weight: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_weight: Option<u8>,
    pub verdicts: Vec<VerdictRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_reason: Option<String>,
    /// `pending` in the draft; `ok`, `conflict`, `rejected` or `unknown` once the backend answered.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one line and fsync it.
    pub fn append(&self, record: &AuditRecord) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())?;
        file.sync_all()
    }

    /// Every record in the log; a line that does not parse is reported with its number.
    pub fn read_all(&self) -> Result<Vec<AuditRecord>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", self.path.display())),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| format!("{}:{}: {e}", self.path.display(), i + 1))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ActionKind;

    fn record(result: &str) -> AuditRecord {
        AuditRecord {
            time: DateTime::<Utc>::UNIX_EPOCH,
            actor: "alice@bastion".into(),
            ssh_client: Some("10.1.2.3".into()),
            rollout: "checkout".into(),
            action: ActionKind::Promote.as_str().into(),
            from_step: 0,
            from_weight: 5,
            to_step: Some(1),
            to_weight: Some(25),
            verdicts: vec![VerdictRecord {
                metric: "p95 latency".into(),
                verdict: "pass".into(),
                baseline: Some(0.18),
                canary: Some(0.19),
                reason: "ok".into(),
            }],
            override_reason: None,
            result: result.into(),
            message: None,
        }
    }

    #[test]
    fn appends_one_line_per_record_and_reads_them_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("nested/audit.jsonl"));
        log.append(&record("ok")).expect("first");
        log.append(&record("conflict")).expect("second");
        let text = std::fs::read_to_string(log.path()).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert!(
            text.lines()
                .next()
                .is_some_and(|l| l.contains("\"time\":\"1970-01-01T00:00:00Z\"")),
            "{text}"
        );
        let back = log.read_all().expect("parse");
        assert_eq!(back[1].result, "conflict");
        assert_eq!(back[0], record("ok"));
    }

    #[test]
    fn a_corrupt_line_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, "{not json}\n").expect("write");
        let err = AuditLog::new(path).read_all().unwrap_err();
        assert!(err.contains("audit.jsonl:1:"), "{err}");
    }
}
