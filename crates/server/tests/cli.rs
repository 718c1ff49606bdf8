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

#[test]
fn put_template_and_hash_password() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\nenabled = false\n",
    )
    .unwrap();
    let cfg = path.to_str().unwrap();
    assert!(
        Command::new(BIN)
            .args(["--config", cfg, "seed-demo"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let emb: Vec<String> = (0..128)
        .map(|i| format!("{:.4}", ((i * 37 % 101) as f32 - 50.0) / 600.0))
        .collect();
    let file = dir.path().join("t.json");
    std::fs::write(
        &file,
        format!(
            "{{\"model_id\":\"faceapi_recognition_u8\",\"version\":1,\"frames\":5,\"embedding\":[{}]}}",
            emb.join(",")
        ),
    )
    .unwrap();
    let put = |id: &str| {
        Command::new(BIN)
            .args(["--config", cfg, "put-template", "--id", id])
            .arg(&file)
            .output()
            .unwrap()
    };
    // 郑强 has no template in the demo roster: version 1, then 2.
    let out = put("110105196011200084");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(stdout.trim(), "template stored, version 1");
    assert!(!stdout.contains(&emb[3]), "never print the embedding");
    assert_eq!(
        String::from_utf8_lossy(&put("110105196011200084").stdout).trim(),
        "template stored, version 2"
    );
    // Not in the roster: a clear error, masked ID.
    let out = put("110105195001010039");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("roster") && err.contains("1101**********0039"),
        "{err}"
    );
    assert!(!err.contains("110105195001010039"), "{err}");
    // A bad file.
    std::fs::write(
        &file,
        "{\"model_id\":\"m\",\"version\":1,\"embedding\":[1,2]}",
    )
    .unwrap();
    let out = put("110105196011200084");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected 128 values"));

    // hash-password: a hash that starts the admin pages.
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"staff pass 1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(lifecert_server::admin::verify_password(
        &hash,
        "staff pass 1"
    ));
    // A malformed hash refuses to serve, naming the key.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\nenabled = false\n[admin]\npassword_hash = \"$argon2id$garbage\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin.password_hash"), "{err}");
}
