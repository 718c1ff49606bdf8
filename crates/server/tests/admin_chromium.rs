//! End-to-end: headless Chromium (via chromedriver + fantoccini) drives the
//! admin pages like a member of staff.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; override with env `CHROMIUM` / `CHROMEDRIVER`).
//! Without them the test prints `SKIPPED: ...` and passes, unless env `CI`
//! is set, in which case it fails.
//!
//! The scenario ([`run_scenario`]) only needs a base URL and the admin
//! password, so it runs against any server that mounts `admin::router`.
//! Here it runs against the admin router over the in-memory `AdminData`,
//! served with axum on 127.0.0.1:0 (plain http). To run it against the real
//! `lifecert-server` (real storage, TLS):
//! 1. start the server process on 127.0.0.1:0 with a fresh database and an
//!    admin password hash, and pass its `https://127.0.0.1:PORT` as `base_url`
//!    (add `--ignore-certificate-errors` to [`CHROMIUM_ARGS`] for the
//!    rcgen test certificate, or trust it);
//! 2. in `after_import`, register a kiosk with the server (token from the API
//!    or a second `run_scenario` step), upload a sealed certification for the
//!    given person ID through `/v1/certifications`, and return `true`: the
//!    scenario then requires a `通过 (passed)` row in the person's history
//!    (and you can check the dashboard's `#certified` count there too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_support;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use admin_support::*;
use fantoccini::{Client, ClientBuilder, Locator};
use lifecert_server::admin::{AdminConfig, router};

/// Chromium flags. The background-networking ones stop Chromium hanging on
/// a closed network.
const CHROMIUM_ARGS: [&str; 9] = [
    "--headless",
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
    browser
        .find(Locator::Id("login-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    browser
        .find(Locator::Id("login-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("certified"))
        .await
        .unwrap();
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
    browser
        .find(Locator::Id("upload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    browser
        .find(Locator::Id("lookup"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    browser
        .find(Locator::Id("create-token"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    browser
        .find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("password"))
        .await
        .unwrap();
    browser.goto(&format!("{base_url}/admin")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin/login");

    Seen { token }
}

/// chromedriver, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

async fn start_driver(path: &str) -> Driver {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
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
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("chromedriver opens a Chromium session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_scenario_in_headless_chromium() {
    let Some((chromium, driver_path)) = tools() else {
        return;
    };
    let data = Arc::new(MemoryAdmin::default());
    let app = router(
        data.clone(),
        AdminConfig {
            password_hash: hash_password(PASSWORD),
            secure_cookie: false,
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let driver = start_driver(&driver_path).await;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    let browser = open_browser(&driver, &chromium, &profile).await;

    let hook_data = data.clone();
    let outcome = tokio::time::timeout(
        Duration::from_secs(180),
        run_scenario(
            &browser,
            &base_url,
            PASSWORD,
            dir.path(),
            async |id: &str| {
                // Stand-in for a kiosk upload: the fake records a certification.
                hook_data.add_history(id, passed_at(time::OffsetDateTime::now_utc()));
                true
            },
        ),
    )
    .await;
    let _ = browser.close().await;
    drop(driver);
    server.abort();
    let seen = outcome.expect("scenario finished within 180 s");

    // What the browser did reached the data layer.
    let (good_a, good_b) = roster_ids();
    let persons = data.persons.lock().unwrap();
    assert_eq!(persons.len(), 2);
    assert!(persons.contains_key(&good_a) && persons.contains_key(&good_b));
    let tokens = data.tokens.lock().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].0, seen.token);
    assert_eq!(tokens[0].1, Duration::from_secs(2 * 3600));
    let events: Vec<String> = data
        .audit_log
        .lock()
        .unwrap()
        .iter()
        .map(|(e, o, _)| format!("{e}/{o}"))
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
}
