//! Where files go (XDG via `directories`) and who the actor is.

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "rollout-console")
}

/// `$XDG_DATA_HOME/rollout-console/audit.jsonl`.
pub fn default_audit_log() -> PathBuf {
    project().map_or_else(
        || PathBuf::from("rollout-console-audit.jsonl"),
        |p| p.data_dir().join("audit.jsonl"),
    )
}

/// `$XDG_STATE_HOME/rollout-console/` for logs (falls back to the local data dir off Linux).
pub fn log_dir() -> PathBuf {
    project().map_or_else(
        || std::env::temp_dir().join("rollout-console"),
        |p| {
            p.state_dir()
                .map_or_else(|| p.data_local_dir().to_path_buf(), |d| d.to_path_buf())
        },
    )
}

/// `$USER@host`, and the SSH client address when `SSH_CONNECTION` is set.
pub fn actor() -> (String, Option<String>) {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".into());
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into());
    let ssh = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|c| c.split_whitespace().next().map(str::to_string));
    (format!("{user}@{host}"), ssh)
}

/// The login name of this process's uid, from /proc and /etc/passwd (no $USER in cron or CI shells).
fn user_from_passwd() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_uid_maps_to_a_login_name() {
        // Every Linux machine this runs on has an /etc/passwd entry for the test's own uid.
        let name = super::user_from_passwd().expect("a passwd entry for this uid");
        assert!(!name.is_empty() && !name.contains(':'), "{name}");
    }
}
