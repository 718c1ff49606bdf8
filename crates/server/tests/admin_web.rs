//! The admin router driven in-process (`tower::ServiceExt::oneshot`) over the
//! in-memory `AdminData`: login, sessions, CSRF, pages, import.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use admin_support::*;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use lifecert_server::admin::{AdminConfig, AdminOptions, Dashboard, RegionDue, router_with};
use time::macros::datetime;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

/// A tiny browser: keeps cookies, follows nothing.
struct Client {
    app: Router,
    cookies: HashMap<String, String>,
    origin: Option<String>,
}

const HOST: &str = "admin.test:8080";

impl Client {
    async fn send(&mut self, req: Request<Body>) -> Reply {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        if status == StatusCode::OK {
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        }
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        Reply {
            status,
            location,
            set_cookies,
            body,
        }
    }

    fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, HOST);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            b = b.header(header::COOKIE, jar.join("; "));
        }
        if method == "POST"
            && let Some(o) = &self.origin
        {
            b = b.header(header::ORIGIN, o);
        }
        b
    }

    async fn get(&mut self, path: &str) -> Reply {
        let req = self.request("GET", path).body(Body::empty()).unwrap();
        self.send(req).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let req = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.join("&")))
            .unwrap();
        self.send(req).await
    }

    async fn upload(&mut self, csrf: &str, file: &[u8]) -> Reply {
        let boundary = "XyZBoundary1234";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"roster.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .request("POST", "/admin/import")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Logs in; returns the session's CSRF token (from the dashboard).
    async fn login(&mut self) -> String {
        let form = self.get("/admin/login").await;
        let pre = csrf_of(&form.body);
        let r = self
            .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location.as_deref(), Some("/admin"));
        let dash = self.get("/admin").await;
        assert_eq!(dash.status, StatusCode::OK);
        csrf_of(&dash.body)
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

struct Env {
    data: Arc<MemoryAdmin>,
    clock: TestClock,
    client: Client,
}

fn env_with(secure: bool) -> Env {
    let data = Arc::new(MemoryAdmin::default());
    let clock = TestClock::new(datetime!(2026-05-10 01:00 UTC));
    let options = AdminOptions {
        failure_delay: Duration::ZERO,
        clock: clock.as_clock(),
        ..AdminOptions::default()
    };
    let app = router_with(
        data.clone(),
        AdminConfig {
            password_hash: hash_password(PASSWORD),
            secure_cookie: secure,
        },
        options,
    );
    Env {
        data,
        clock,
        client: Client {
            app,
            cookies: HashMap::new(),
            origin: Some(format!("http://{HOST}")),
        },
    }
}

fn env() -> Env {
    env_with(false)
}

const PAGES: [&str; 7] = [
    "/admin",
    "/admin/due",
    "/admin/person",
    "/admin/devices",
    "/admin/import",
    "/admin/tokens",
    "/admin/",
];

#[tokio::test]
async fn every_page_redirects_to_login_without_a_session() {
    let mut e = env();
    for path in PAGES {
        let r = e.client.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location.as_deref(), Some("/admin/login"), "{path}");
    }
    // POSTs too, and nothing happens.
    let r = e
        .client
        .post("/admin/tokens", &[("csrf", "x"), ("ttl_hours", "1")])
        .await;
    assert_eq!(r.location.as_deref(), Some("/admin/login"));
    // A forged session cookie is no session.
    e.client
        .cookies
        .insert("lifecert_admin".into(), "a".repeat(64));
    assert_eq!(
        e.client.get("/admin").await.location.as_deref(),
        Some("/admin/login")
    );
    assert!(e.data.tokens.lock().unwrap().is_empty());
}

#[tokio::test]
async fn login_wrong_then_right_password_and_cookie_flags() {
    let mut e = env();
    let form = e.client.get("/admin/login").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("type=\"password\""));
    let pre_cookie = &form.set_cookies[0];
    assert!(pre_cookie.starts_with("lifecert_login="), "{pre_cookie}");
    assert!(pre_cookie.contains("HttpOnly; SameSite=Strict; Path=/admin"));
    let pre = csrf_of(&form.body);
    assert_eq!(e.client.cookies["lifecert_login"], pre);

    let wrong = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", "guess")])
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("密码错误"), "{}", wrong.body);
    assert!(!e.client.cookies.contains_key("lifecert_admin"));
    assert_eq!(e.client.get("/admin").await.status, StatusCode::SEE_OTHER);

    let ok = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let session = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("lifecert_admin="))
        .unwrap();
    let sid = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("lifecert_admin=");
    assert_eq!(sid.len(), 64);
    assert!(session.contains("HttpOnly; SameSite=Strict; Path=/admin"));
    assert!(!session.contains("Secure"));
    assert!(
        !e.client.cookies.contains_key("lifecert_login"),
        "pre-session cookie cleared"
    );
    assert_eq!(e.client.get("/admin").await.status, StatusCode::OK);
    // Logged in: the login page sends you to the dashboard.
    assert_eq!(
        e.client.get("/admin/login").await.location.as_deref(),
        Some("/admin")
    );

    let log = e.data.audit_log.lock().unwrap().clone();
    assert_eq!(log[0].0, "admin_login");
    assert_eq!(log[0].1, "denied");
    assert_eq!(log[1].1, "ok");
}

#[tokio::test]
async fn secure_flag_when_configured() {
    let mut e = env_with(true);
    let form = e.client.get("/admin/login").await;
    assert!(form.set_cookies[0].ends_with("; Secure"));
    let pre = csrf_of(&form.body);
    let ok = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
        .await;
    assert!(
        ok.set_cookies
            .iter()
            .any(|c| c.starts_with("lifecert_admin=") && c.ends_with("; Secure"))
    );
}

#[tokio::test]
async fn login_csrf_and_origin_are_checked() {
    let mut e = env();
    let form = e.client.get("/admin/login").await;
    let pre = csrf_of(&form.body);
    // Token in the form that does not match the cookie.
    let r = e
        .client
        .post(
            "/admin/login",
            &[("csrf", &"0".repeat(64)), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No pre-session cookie at all (a cross-site form post).
    let saved = e.client.cookies.remove("lifecert_login").unwrap();
    let r = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    e.client.cookies.insert("lifecert_login".into(), saved);
    // Another origin.
    e.client.origin = Some("https://evil.example".into());
    let r = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("403"));
    assert!(!e.client.cookies.contains_key("lifecert_admin"));
}

#[tokio::test]
async fn five_failures_lock_logins_for_a_minute() {
    let mut e = env();
    let pre = csrf_of(&e.client.get("/admin/login").await.body);
    for _ in 0..5 {
        let r = e
            .client
            .post("/admin/login", &[("csrf", &pre), ("password", "bad")])
            .await;
        assert!(r.body.contains("密码错误"));
    }
    let locked = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
        .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.body.contains("60 秒后再试"), "{}", locked.body);
    assert!(!e.client.cookies.contains_key("lifecert_admin"));
    e.clock.advance(Duration::from_secs(61));
    let ok = e
        .client
        .post("/admin/login", &[("csrf", &pre), ("password", PASSWORD)])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn logout_ends_the_session_and_needs_csrf() {
    let mut e = env();
    let csrf = e.client.login().await;
    let r = e.client.post("/admin/logout", &[("csrf", "wrong")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(e.client.get("/admin").await.status, StatusCode::OK);
    let stolen = e.client.cookies["lifecert_admin"].clone();
    let r = e.client.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.location.as_deref(), Some("/admin/login"));
    assert!(!e.client.cookies.contains_key("lifecert_admin"));
    // The old cookie no longer works.
    e.client.cookies.insert("lifecert_admin".into(), stolen);
    assert_eq!(
        e.client.get("/admin").await.location.as_deref(),
        Some("/admin/login")
    );
}

#[tokio::test]
async fn idle_sessions_expire_after_30_minutes() {
    let mut e = env();
    e.client.login().await;
    e.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(e.client.get("/admin/due").await.status, StatusCode::OK);
    e.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        e.client.get("/admin/due").await.status,
        StatusCode::OK,
        "activity extends it"
    );
    e.clock.advance(Duration::from_secs(30 * 60 + 1));
    assert_eq!(
        e.client.get("/admin/due").await.location.as_deref(),
        Some("/admin/login")
    );
}

#[tokio::test]
async fn csrf_is_required_on_every_post() {
    let mut e = env();
    let csrf = e.client.login().await;
    for bad in [
        vec![("ttl_hours", "24")],
        vec![("csrf", "nope"), ("ttl_hours", "24")],
    ] {
        let r = e.client.post("/admin/tokens", &bad).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = e
        .client
        .post("/admin/person", &[("csrf", ""), ("id", "x")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = e.client.upload("bad-token", b"id_number\n").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Right token, wrong origin.
    e.client.origin = Some("http://other.test".into());
    let r = e
        .client
        .post("/admin/tokens", &[("csrf", &csrf), ("ttl_hours", "24")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(e.data.tokens.lock().unwrap().is_empty());
    // Same origin (or none) with the token works.
    e.client.origin = None;
    let r = e
        .client
        .post("/admin/tokens", &[("csrf", &csrf), ("ttl_hours", "24")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(e.data.tokens.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn token_page_shows_the_token_once_with_the_register_command() {
    let mut e = env();
    let csrf = e.client.login().await;
    let r = e
        .client
        .post("/admin/tokens", &[("csrf", &csrf), ("ttl_hours", "0")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("1 到 168"));
    let r = e
        .client
        .post("/admin/tokens", &[("csrf", &csrf), ("ttl_hours", "48")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let tokens = e.data.tokens.lock().unwrap().clone();
    assert_eq!(
        tokens,
        vec![("tok-1-172800".to_owned(), Duration::from_secs(48 * 3600))]
    );
    assert!(
        r.body
            .contains("<div class=\"token\" id=\"token\">tok-1-172800</div>")
    );
    assert!(
        r.body
            .contains("lifecert register --server http://admin.test:8080 --token tok-1-172800")
    );
    // Audited without the token.
    let log = e.data.audit_log.lock().unwrap().clone();
    let last = log.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.2.as_str()),
        ("token_created", "ttl 48 h")
    );
    // The form page does not show it again.
    assert!(!e.client.get("/admin/tokens").await.body.contains("tok-1"));
}

#[tokio::test]
async fn dashboard_due_and_devices_show_escaped_data() {
    let mut e = env();
    e.client.login().await;
    *e.data.dashboard.lock().unwrap() = Dashboard {
        certified: 12,
        passed: 9,
        accepted: 2,
        appeal: 1,
        failures_by_reason: vec![("<script>alert(1)</script>".into(), 4)],
        queued_on_devices: 10,
        dead_on_devices: 2,
    };
    let r = e.client.get("/admin").await;
    assert!(
        r.body
            .contains("id=\"certified\">今日认证 (Total)<b>12</b>")
    );
    assert!(r.body.contains("<b id=\"queued\">10</b>"));
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!r.body.contains("<script>"));
    // Today in China (UTC+8) is already the 10th at 01:00 UTC.
    assert!(r.body.contains("2026-05-10"));

    *e.data.due.lock().unwrap() = vec![
        RegionDue {
            region: "450403".into(),
            due: 5,
            overdue: 1,
        },
        RegionDue {
            region: "450405".into(),
            due: 2,
            overdue: 0,
        },
    ];
    let r = e.client.get("/admin/due").await;
    assert!(
        r.body.contains(
            "<tr><td>450403</td><td class=\"num\">5</td><td class=\"num bad\">1</td></tr>"
        )
    );
    assert!(
        r.body
            .contains("<th class=\"num\">7</th><th class=\"num\">1</th>")
    );

    *e.data.devices.lock().unwrap() = sample_devices(e.clock.now());
    let r = e.client.get("/admin/devices").await;
    let rows: Vec<&str> = r.body.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 2);
    assert!(
        !rows[0].starts_with(" class=\"stale\""),
        "fresh device not stale"
    );
    assert!(
        rows[1].starts_with(" class=\"stale\""),
        "1 h old heartbeat is stale"
    );
    assert!(rows[1].contains("&lt;b&gt;村委会&lt;/b&gt;"));
    assert!(rows[1].contains("<div class=\"bad\">printer: fault: paper out</div>"));
    assert!(rows[1].contains("60 分钟前"));
}

#[tokio::test]
async fn storage_outage_is_a_503_page_not_a_crash() {
    let mut e = env();
    e.client.login().await;
    e.data.down.store(true, Ordering::SeqCst);
    let r = e.client.get("/admin/devices").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.body.contains("数据库暂时不可用"));
    assert!(
        !r.body.contains("test: storage down"),
        "internal detail not shown"
    );
}

#[tokio::test]
async fn import_lists_bad_rows_and_keeps_good_ones_then_lookup() {
    let mut e = env();
    let csrf = e.client.login().await;
    let a = id_with("45040319500101001");
    let b = id_with("45040319480202002");
    let r = e
        .client
        .upload(&csrf, sample_roster(&a, &b).as_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("<b id=\"inserted\">2</b>"));
    assert!(r.body.contains("<b id=\"bad\">1</b>"));
    assert!(r.body.contains("第 3 行：身份证号校验位错误"), "{}", r.body);
    assert!(r.body.contains("row 3: ID number check digit is wrong"));
    assert_eq!(e.data.persons.lock().unwrap().len(), 2);

    // The same file again: updates, and the storage may refuse single rows.
    *e.data.refuse_name.lock().unwrap() = Some("李四".into());
    let r = e
        .client
        .upload(&csrf, sample_roster(&a, &b).as_bytes())
        .await;
    assert!(r.body.contains("<b id=\"updated\">1</b>"));
    assert!(
        r.body
            .contains("第 4 行：数据库拒绝：conflicts with counter records"),
        "{}",
        r.body
    );

    // GBK upload.
    let c = id_with("45040319550303003");
    let text = format!(
        "id_number,name,region,benefit,status,status_since,last_certified\n{c},赵六,450403,work_injury,active,,\n"
    );
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let r = e.client.upload(&csrf, &gbk).await;
    assert!(r.body.contains("<b id=\"inserted\">1</b>"), "{}", r.body);
    assert!(r.body.contains("GBK"));
    assert_eq!(e.data.persons.lock().unwrap()[&c].name, "赵六");

    // A file without the right header imports nothing.
    let r = e.client.upload(&csrf, b"name,phone\nx,1\n").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("未导入任何数据"));

    // Lookup: the masked number on the page, the full one only in the box.
    e.data.add_history(&a, passed_at(e.clock.now()));
    let r = e
        .client
        .post("/admin/person", &[("csrf", &csrf), ("id", &a)])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<td id=\"person-name\">张三</td>"));
    assert!(r.body.contains(&format!(
        "<td id=\"person-id\">{}</td>",
        lifecert_core::id::mask(&a)
    )));
    assert_eq!(
        r.body.matches(a.as_str()).count(),
        1,
        "full ID only in the search box"
    );
    assert!(r.body.contains(&format!("value=\"{a}\"")));
    assert!(r.body.contains("通过 (passed)"));
    assert!(r.body.contains("2026-05-10 09:00"), "history in local time");
    assert!(r.body.contains("养老保险待遇 (pension)"));
    // The record's liveness evidence, no images.
    assert!(
        r.body.contains("blink (seed 42, 5.2 s)")
            && r.body
                .contains("screen light passed: r 0.97, response 0.072, shape 1.14")
            && r.body.contains("camera bus=usb id=046d:0825 virtual=no"),
        "{}",
        r.body
    );

    let r = e
        .client
        .post(
            "/admin/person",
            &[("csrf", &csrf), ("id", &wrong_check(&a))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("校验码不符"));
    let r = e
        .client
        .post(
            "/admin/person",
            &[("csrf", &csrf), ("id", &id_with("11010519491231001"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("不在名册中"));

    // The audit log never holds a full ID number.
    for (_, _, detail) in e.data.audit_log.lock().unwrap().iter() {
        assert!(!detail.contains(&a), "{detail}");
    }
}

#[tokio::test]
async fn import_stops_cleanly_when_storage_goes_down() {
    let mut e = env();
    let csrf = e.client.login().await;
    e.data.down.store(true, Ordering::SeqCst);
    let a = id_with("45040319500101001");
    let b = id_with("45040319480202002");
    let r = e
        .client
        .upload(&csrf, sample_roster(&a, &b).as_bytes())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("从第 2 行起的 2 行未导入"), "{}", r.body);
    assert!(e.data.persons.lock().unwrap().is_empty());
}

#[tokio::test]
async fn empty_upload_is_a_plain_error() {
    let mut e = env();
    let csrf = e.client.login().await;
    let r = e.client.upload(&csrf, b"").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("请选择一个 CSV 文件"));
}
