//! Engines behind auth, for tests: Prometheus with its own `--web.config.file` (basic auth users
//! with a bcrypt hash, TLS with a certificate) and VictoriaMetrics behind `vmauth` (a bearer
//! token, a `url_map` serving a path prefix). Certificates are made at test time with the
//! `openssl` CLI, hashes with the `bcrypt` crate; every file lives in the caller's temp dir.
//!
//! Every process listens on a free loopback port and is killed when its [`Proc`] is dropped
//! (also when a test panics); through `setpriv --pdeathsig KILL` when it is there, so a test
//! binary killed outright leaves nothing behind either. Include with
//!
//! ```ignore
//! #[path = "common/secured.rs"]
//! mod secured;
//! ```
#![allow(unused)]

use std::fs;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process on `addr`, killed on drop.
pub struct Proc {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: PathBuf,
}

impl Proc {
    /// The process's stdout+stderr so far.
    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `binary` with the args `args(addr)` on a free port, its output in `dir/<name>.log`,
/// and wait until the log holds `ready` and the port accepts connections. Takes another port
/// if the one picked was grabbed in between.
pub fn start(
    dir: &Path,
    name: &str,
    binary: &str,
    args: impl Fn(&str) -> Vec<String>,
    ready: &str,
) -> Proc {
    let log = dir.join(format!("{name}.log"));
    for _ in 0..5 {
        let addr = format!("127.0.0.1:{}", free_port());
        let out = fs::File::create(&log).expect("create the log");
        let err = out.try_clone().expect("clone the log handle");
        let mut cmd = match which("setpriv") {
            Some(setpriv) => {
                let mut cmd = Command::new(setpriv);
                cmd.args(["--pdeathsig", "KILL", "--", binary]);
                cmd
            }
            None => Command::new(binary),
        };
        let child = cmd
            .args(args(&addr))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let mut proc = Proc {
            child,
            addr,
            log: log.clone(),
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = proc.child.try_wait() {
                let text = proc.log();
                if text.contains("address already in use") {
                    break;
                }
                panic!("{name} exited with {status}:\n{text}");
            }
            let accepts = TcpStream::connect_timeout(
                &proc.addr.parse().expect("socket address"),
                Duration::from_millis(200),
            )
            .is_ok();
            if accepts && proc.log().contains(ready) {
                return proc;
            }
            assert!(
                Instant::now() < deadline,
                "{name} on {} was not ready within {READY_TIMEOUT:?}:\n{}",
                proc.addr,
                proc.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{name}: the port was taken 5 times in a row")
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A bcrypt hash of `password`, as Prometheus's `basic_auth_users` takes it (cost 4: the
/// lowest, so that Prometheus checks every request in a millisecond).
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt")
}

/// Files of a small PKI made with `openssl` in `dir`.
pub struct Pki {
    /// The CA that signed `cert` and `expired_cert` (what `ca_file` points at).
    pub ca: PathBuf,
    /// Another CA, which signed nothing the servers show.
    pub other_ca: PathBuf,
    /// A server certificate for 127.0.0.1 and localhost, valid now, and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The same names, valid only on 2020-01-01 (`key` is its key too).
    pub expired_cert: PathBuf,
}

/// The day `Pki::expired_cert` expired, as the console should say it.
pub const EXPIRED_ON: &str = "2020-01-02";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    pub fn make(dir: &Path) -> Self {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key, pem, subj) = (
                format!("{ca}.key"),
                format!("{ca}.pem"),
                format!("/CN=rollout-console test {ca}"),
            );
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
            openssl(dir, &args);
        }
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(dir, &args);
        fs::write(
            dir.join("ca.cnf"),
            "[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\n\
             new_certs_dir = .\nunique_subject = no\nserial = serial\ndefault_md = sha256\npolicy = any\n\
             x509_extensions = server\n[any]\ncommonName = supplied\n[server]\n\
             subjectAltName = IP:127.0.0.1,DNS:localhost\nbasicConstraints = CA:FALSE\n\
             extendedKeyUsage = serverAuth\n",
        )
        .expect("write ca.cnf");
        fs::write(dir.join("index.txt"), "").expect("index.txt");
        fs::write(dir.join("serial"), "01\n").expect("serial");
        let sign = |out: &str, dates: &[&str]| {
            let mut args = vec![
                "ca",
                "-batch",
                "-notext",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-in",
                "server.csr",
                "-out",
                out,
            ];
            args.extend(dates);
            openssl(dir, &args);
        };
        sign("server.pem", &["-days", "2"]);
        sign(
            "expired.pem",
            &[
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
            ],
        );
        Self {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            expired_cert: dir.join("expired.pem"),
        }
    }
}

/// Prometheus (`/usr/bin/prometheus` or `$TSDB_PROMETHEUS_BIN`) with `web_config` (YAML) as its
/// `--web.config.file`, no scrape targets, its files in `dir/<name>/`.
pub fn prometheus(dir: &Path, name: &str, web_config: &str) -> Proc {
    let home = dir.join(name);
    fs::create_dir_all(home.join("data")).expect("prometheus dir");
    fs::write(
        home.join("prometheus.yml"),
        "global: { scrape_interval: 1m }\n",
    )
    .expect("prometheus.yml");
    fs::write(home.join("web.yml"), web_config).expect("web.yml");
    let binary = std::env::var("TSDB_PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
    start(
        &home,
        "prometheus",
        &binary,
        |addr| {
            vec![
                "--config.file=prometheus.yml".into(),
                "--storage.tsdb.path=data".into(),
                format!("--web.listen-address={addr}"),
                "--web.config.file=web.yml".into(),
            ]
        },
        "Server is ready to receive web requests.",
    )
}

/// VictoriaMetrics (no scrape targets) and `vmauth` in front of it with `auth_config` (YAML;
/// `{vm}` in it becomes VictoriaMetrics's `http://127.0.0.1:PORT`). Returns (vmauth, vm).
pub fn vmauth(dir: &Path, auth_config: &str) -> (Proc, Proc) {
    let home = dir.join("vm");
    fs::create_dir_all(home.join("data")).expect("vm dir");
    let vm_binary =
        std::env::var("TSDB_VICTORIA_METRICS_BIN").unwrap_or_else(|_| "victoria-metrics".into());
    let vm = start(
        &home,
        "victoria-metrics",
        &vm_binary,
        |addr| {
            vec![
                format!("-httpListenAddr={addr}"),
                "-storageDataPath=data".into(),
                "-search.latencyOffset=0s".into(),
            ]
        },
        "started VictoriaMetrics in",
    );
    let text = auth_config.replace("{vm}", &format!("http://{}", vm.addr));
    fs::write(home.join("auth.yml"), text).expect("auth.yml");
    let auth = start(
        &home,
        "vmauth",
        "vmauth",
        |addr| {
            vec![
                format!("-httpListenAddr={addr}"),
                "-auth.config=auth.yml".into(),
            ]
        },
        "started vmauth in",
    );
    (auth, vm)
}
