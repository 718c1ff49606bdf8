//! End-to-end: headless Chromium (via chromedriver + fantoccini) drives the
//! admin pages of the REAL server like a member of staff.
//!
//! The server runs in this process (`lifecert_server::serve`) over TLS with
//! an rcgen test certificate (Chromium gets `--ignore-certificate-errors`),
//! a fresh SQLite database and an admin password hashed at test time. In the
//! middle of the scenario a kiosk registers and uploads a sealed PASSED
//! certification through the signed `/v1` API; the person page must then
//! show it and the dashboard count must go up. The device token the page
//! makes must register a second kiosk.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; override with env `CHROMIUM` / `CHROMEDRIVER`).
//! Without them the test prints `SKIPPED: ...` and passes, unless env `CI`
//! is set, in which case it fails. chromedriver runs in its own process
//! group, which is killed (with any Chromium left over) when the test ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_support;
mod common;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use admin_support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use lifecert_protocol::api::{ItemKind, UploadBatch, UploadItem};
use lifecert_protocol::seal::SealingKey;
use lifecert_protocol::{BenefitType, CertResult, CertificationRecord, Method};

/// Chromium flags. The background-networking ones stop Chromium hanging on
/// a closed network.
const CHROMIUM_ARGS: [&str; 10] = [
    "--headless",
    // The server's certificate is made by rcgen for this test.
    "--ignore-certificate-errors",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

const WAIT: Duration = Duration::from_secs(20);

/// The two good IDs of the roster the scenario imports.
pub fn roster_ids() -> (String, String) {
    (id_with("45040319500101001"), id_with("45040319480202002"))
}

/// What the scenario saw (for callers that want to check more).
pub struct Seen {
    pub token: String,
}

/// Clicks the element with this id.
async fn click(browser: &Client, id: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits (up to [`WAIT`]) for the element with this id.
async fn wait_for(browser: &Client, id: &str) {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id(id))
        .await
        .unwrap();
}

/// Runs the staff scenario in `browser` against `base_url` (no trailing `/`):
/// wrong password → error; right password → dashboard; import a CSV with 2
/// good rows and 1 bad row → per-row error; `after_import(id)` (returns
/// whether a certification for `id` now exists); look up the person; create a
/// device token; log out. `workdir` receives the CSV file.
pub async fn run_scenario(
    browser: &Client,
    base_url: &str,
    password: &str,
    workdir: &Path,
    after_import: impl AsyncFnOnce(&str) -> bool,
) -> Seen {
    // Not logged in: redirected to the login page.
    browser
        .goto(&format!("{base_url}/admin/devices"))
        .await
        .unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin/login");

    // Wrong password first.
    let field = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("password"))
        .await
        .unwrap();
    field.send_keys("not the password").await.unwrap();
    click(browser, "login-button").await;
    let error = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("div.error"))
        .await
        .unwrap();
    let error = error.text().await.unwrap();
    assert!(error.contains("密码错误"), "{error}");

    // Then the right one.
    let field = browser.find(Locator::Id("password")).await.unwrap();
    field.send_keys(password).await.unwrap();
    click(browser, "login-button").await;
    wait_for(browser, "certified").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin");

    // Import: 2 good rows, 1 bad (line 3).
    let (good_a, good_b) = roster_ids();
    let csv_path: PathBuf = workdir.join("roster.csv");
    std::fs::write(&csv_path, sample_roster(&good_a, &good_b)).unwrap();
    browser
        .goto(&format!("{base_url}/admin/import"))
        .await
        .unwrap();
    let file = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("file"))
        .await
        .unwrap();
    file.send_keys(csv_path.to_str().unwrap()).await.unwrap();
    click(browser, "upload").await;
    let summary = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("summary"))
        .await
        .unwrap();
    let summary = summary.text().await.unwrap();
    let inserted = browser
        .find(Locator::Id("inserted"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let updated = browser
        .find(Locator::Id("updated"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        inserted.parse::<u32>().unwrap() + updated.parse::<u32>().unwrap(),
        2,
        "{summary}"
    );
    assert_eq!(
        browser
            .find(Locator::Id("bad"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "1"
    );
    let errors = browser
        .find(Locator::Id("errors"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(errors.contains("第 3 行：身份证号校验位错误"), "{errors}");

    let certified = after_import(&good_a).await;

    // Look the person up.
    browser
        .goto(&format!("{base_url}/admin/person"))
        .await
        .unwrap();
    let id_box = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("id"))
        .await
        .unwrap();
    id_box.send_keys(&good_a).await.unwrap();
    click(browser, "lookup").await;
    let name = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("person-name"))
        .await
        .unwrap();
    assert_eq!(name.text().await.unwrap(), "张三");
    let shown_id = browser
        .find(Locator::Id("person-id"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown_id, lifecert_core::id::mask(&good_a));
    let benefits = browser
        .find(Locator::Id("benefits"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(benefits.contains("pension"), "{benefits}");
    let history = browser
        .find(Locator::Id("history"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if certified {
        assert!(history.contains("通过 (passed)"), "{history}");
    }
    let page = browser.source().await.unwrap();
    assert_eq!(
        page.matches(good_a.as_str()).count(),
        1,
        "full ID only in the search box"
    );

    // Create a device token.
    browser
        .goto(&format!("{base_url}/admin/tokens"))
        .await
        .unwrap();
    let hours = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("ttl_hours"))
        .await
        .unwrap();
    hours.clear().await.unwrap();
    hours.send_keys("2").await.unwrap();
    click(browser, "create-token").await;
    let token = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("token"))
        .await
        .unwrap();
    let token = token.text().await.unwrap();
    assert!(!token.trim().is_empty());
    let command = browser
        .find(Locator::Id("command"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        command,
        format!("lifecert register --server {base_url} --token {token}")
    );

    // Log out: back to the login page, and the pages are closed again.
    click(browser, "logout").await;
    wait_for(browser, "password").await;
    browser.goto(&format!("{base_url}/admin")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin/login");

    Seen { token }
}

/// chromedriver in its own process group; on drop the group is killed, then
/// any process still using this test's Chromium profile (by pid).
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in profile_processes(&self.profile) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Pids whose command line names `profile` (this test's Chromium).
fn profile_processes(profile: &Path) -> Vec<u32> {
    let needle = profile.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Paths of chromium and chromedriver, or `None` (after printing SKIPPED)
/// when missing outside CI.
fn tools() -> Option<(String, String)> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if Path::new(&chromium).exists() && Path::new(&driver).exists() {
        return Some((chromium, driver));
    }
    let msg = "SKIPPED: apt-get install chromium chromium-driver \
               (or set CHROMIUM and CHROMEDRIVER)";
    assert!(
        std::env::var_os("CI").is_none(),
        "{msg}: required when CI is set"
    );
    eprintln!("{msg}");
    None
}

async fn start_driver(path: &str, profile: &Path) -> Driver {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile: profile.to_path_buf(),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

async fn open_browser(driver: &Driver, chromium: &str, profile: &Path) -> Client {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("chromedriver opens a Chromium session")
}

/// A sealed PASSED certification of `person` by `kiosk`.
fn passed_item(seal: &SealingKey, kiosk: &common::Kiosk, person: &str) -> UploadItem {
    let r = CertificationRecord {
        id: uuid::Uuid::now_v7(),
        device_seq: 1,
        device_id: kiosk.id.clone(),
        person_id: person.into(),
        benefit: BenefitType::Pension,
        certified_at: time::OffsetDateTime::now_utc(),
        result: CertResult::Passed,
        method: Method::Kiosk,
        liveness: None,
        score: Some(0.9),
        operator_masked: None,
    };
    UploadItem {
        id: r.id,
        device_seq: r.device_seq,
        kind: ItemKind::Certification,
        sealed: seal.seal_b64(&serde_json::to_vec(&r).unwrap()).unwrap(),
    }
}

async fn card(browser: &Client, base_url: &str, id: &str) -> String {
    browser.goto(&format!("{base_url}/admin")).await.unwrap();
    let el = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("#{id} b")))
        .await
        .unwrap();
    el.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_scenario_in_headless_chromium_against_the_real_server() {
    let Some((chromium, driver_path)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut config, ca) = common::config(dir.path(), &common::Backend::Sqlite);
    config.admin.password_hash = Some(hash_password(PASSWORD));
    let server = lifecert_server::serve(config).await.unwrap();
    let base_url = server.url();
    assert!(base_url.starts_with("https://127.0.0.1:"));

    let profile = dir.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let driver = start_driver(&driver_path, &profile).await;
    let browser = open_browser(&driver, &chromium, &profile).await;

    let kiosk = common::Kiosk::new(&server, &ca, "kiosk-web-1");
    let (hook_browser, hook_base) = (browser.clone(), base_url.clone());
    let hook_kiosk = &kiosk;
    let hook_server = &server;
    let outcome = tokio::time::timeout(
        Duration::from_secs(240),
        run_scenario(
            &browser,
            &base_url,
            PASSWORD,
            dir.path(),
            async |id: &str| {
                let before: u64 = card(&hook_browser, &hook_base, "certified")
                    .await
                    .parse()
                    .unwrap();
                let reg = hook_kiosk.register(hook_server).await;
                assert_eq!(reg.status, 200, "{:?}", reg.json);
                let seal = SealingKey::from_b64(reg.json["sealing_key"].as_str().unwrap()).unwrap();
                let up = hook_kiosk
                    .post(
                        "/v1/certifications",
                        &UploadBatch {
                            items: vec![passed_item(&seal, hook_kiosk, id)],
                        },
                    )
                    .await;
                assert_eq!(up.status, 200, "{:?}", up.json);
                assert_eq!(up.json["results"][0]["outcome"], "stored");
                let after: u64 = card(&hook_browser, &hook_base, "certified")
                    .await
                    .parse()
                    .unwrap();
                assert_eq!(after, before + 1, "dashboard count went up");
                let passed = card(&hook_browser, &hook_base, "passed").await;
                assert_eq!(passed, after.to_string());
                true
            },
        ),
    )
    .await;
    let _ = browser.close().await;
    drop(driver);
    let seen = outcome.expect("scenario finished within 240 s");

    // What the browser did reached the real storage.
    let storage = server.state.storage.clone();
    let (good_a, good_b) = roster_ids();
    assert_eq!(storage.person_count().await.unwrap(), 2);
    for id in [&good_a, &good_b] {
        assert!(storage.person(id).await.unwrap().is_some());
    }
    // The token the page showed registers a kiosk, once.
    let second = common::Kiosk::new(&server, &ca, "kiosk-web-2");
    let r = second.register_with(&seen.token).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    let r = common::Kiosk::new(&server, &ca, "kiosk-web-3")
        .register_with(&seen.token)
        .await;
    assert_eq!((r.status, r.code()), (403, "invalid_token"));
    let events: Vec<String> = storage
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|e| e.event.starts_with("admin_") || !e.event.contains('.'))
        .map(|e| format!("{}/{}", e.event, e.outcome))
        .collect();
    assert_eq!(
        events,
        [
            "admin_login/denied",
            "admin_login/ok",
            "roster_import/ok",
            "person_lookup/ok",
            "token_created/ok",
            "admin_logout/ok"
        ]
    );
    server.shutdown().await;
    assert!(
        profile_processes(&profile).is_empty(),
        "a Chromium process outlived the test"
    );
}
