//! The real binary: bad config → exit 2 naming the key; serve prints the port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_lifecert-server");

#[test]
fn bad_config_exits_2_and_names_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, "listen = \"x\"\n[storage]\nbackend = \"oracle\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", path.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["listen", "storage.backend", "data_dir", "tls.cert_path"] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    let missing = Command::new(BIN)
        .args(["--config", "/nonexistent/server.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn serve_prints_the_bound_address_and_tokens_work() {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new(BIN)
        .args(["gen-dev-cert", dir.path().join("tls").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(made.status.success());
    let path = dir.path().join("server.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\ncert_path = \"tls/server.pem\"\nkey_path = \"tls/server.key\"\n",
    )
    .unwrap();
    let cfg = path.to_str().unwrap();
    let token = Command::new(BIN)
        .args(["--config", cfg, "create-token", "--ttl-hours", "2"])
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&token.stdout).trim().len(), 64);
    let op = Command::new(BIN)
        .args(["--config", cfg, "create-operator", "Staff"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&op.stdout)
            .trim()
            .starts_with("op-")
    );
    let seed = Command::new(BIN)
        .args(["--config", cfg, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    let mut child = Command::new(BIN)
        .args(["--config", cfg])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line}"
    );
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("data/server-sealing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
