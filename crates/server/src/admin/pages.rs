//! The page handlers. Every value from storage or the request is escaped
//! with [`escape`] before it is written into HTML.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{FromRequestParts, Multipart, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, REFERRER_POLICY, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lifecert_core::id::IdNumber;
use lifecert_protocol::{BenefitType, CertResult, Method};
use serde::Deserialize;
use time::{Date, OffsetDateTime};

use super::data::{AdminDataError, ImportAction, benefit_code};
use super::html::{csrf_field, error_box, escape, page};
use super::roster::{self, Problem, RowError};
use super::session::{
    LOGIN_COOKIE, SESSION_COOKIE, cookie, is_token, origin_ok, random_token, same_secret,
    set_cookie,
};
use super::{App, verify_password};

type AppState = State<Arc<App>>;

/// No scripts at all; inline styles only from our own `<style>` block.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A heartbeat older than this marks a device as stale.
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// How many bad rows the import result lists.
const MAX_LISTED_ERRORS: usize = 1000;

/// The longest accepted device-token lifetime, hours.
const MAX_TOKEN_HOURS: u32 = 168;

/// An HTML answer with the security headers every admin page carries.
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (X_FRAME_OPTIONS, "DENY"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Not `no-referrer`: with it Chromium sends `Origin: null` on
            // same-origin form posts, which the origin check refuses.
            (REFERRER_POLICY, "same-origin"),
            (CONTENT_SECURITY_POLICY, CSP),
        ],
        body,
    )
        .into_response()
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// A logged-in request: the session id and its CSRF token. Without a live
/// session the request is redirected to the login page.
pub(crate) struct Authed {
    sid: String,
    csrf: String,
}

impl FromRequestParts<Arc<App>> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let sid = cookie(&parts.headers, SESSION_COOKIE).filter(|s| is_token(s));
        let found = sid.and_then(|sid| {
            app.sessions
                .touch(sid, app.now())
                .map(|csrf| (sid.to_owned(), csrf))
        });
        match found {
            Some((sid, csrf)) => Ok(Authed { sid, csrf }),
            None => Err(Redirect::to("/admin/login").into_response()),
        }
    }
}

impl Authed {
    /// A page with the menu.
    fn page(&self, status: StatusCode, title: &str, path: &str, body: &str) -> Response {
        html(status, page(title, Some((path, &self.csrf)), body))
    }

    /// Checks a POST: same-origin and the form's CSRF token; `Some(403
    /// page)` when it fails.
    fn reject_post(&self, headers: &HeaderMap, form_csrf: &str) -> Option<Response> {
        if origin_ok(headers) && same_secret(form_csrf, &self.csrf) {
            None
        } else {
            Some(forbidden())
        }
    }

    /// The page for a storage failure.
    fn storage_error(&self, path: &str, e: &AdminDataError) -> Response {
        match e {
            AdminDataError::Unavailable(why) => {
                tracing::warn!("admin page {path}: storage unavailable: {why}");
                self.page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "暂时不可用",
                    path,
                    &error_box(
                        "数据库暂时不可用，请稍后刷新重试。<br><small>(Storage is unavailable; \
                         try again later.)</small>",
                    ),
                )
            }
            AdminDataError::Rejected(why) => self.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "未能完成",
                path,
                &error_box(&escape(why)),
            ),
        }
    }
}

/// The 403 page for a failed CSRF or origin check.
fn forbidden() -> Response {
    html(
        StatusCode::FORBIDDEN,
        page(
            "请求被拒绝",
            None,
            &format!(
                "<h1>请求被拒绝 (403 Forbidden)</h1>{}<p><a href=\"/admin\">返回首页 (Back)</a></p>",
                error_box(
                    "表单已过期或来源不明（安全校验失败）。请返回，刷新页面后重新提交。<br>\
                     <small>(The form's security token is missing or wrong. Go back, reload \
                     the page and submit again.)</small>"
                )
            ),
        ),
    )
}

fn no_randomness() -> Response {
    tracing::error!("admin: the OS gave no randomness for a token");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "系统错误",
            None,
            &error_box("系统无法生成安全随机数，请联系管理员。(No system randomness.)"),
        ),
    )
}

/// Audit without failing the page; a failed audit write is logged.
async fn audit(app: &App, event: &str, outcome: &str, detail: &str) {
    if let Err(e) = app.data.audit(event, outcome, detail).await {
        tracing::warn!("admin audit {event}/{outcome} not written: {e}");
    }
}

fn local_time(app: &App, at: OffsetDateTime) -> String {
    let t = at.to_offset(app.options.utc_offset);
    format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute())
}

fn opt_date(d: Option<Date>) -> String {
    d.map_or_else(|| "—".to_owned(), |d| d.to_string())
}

// ---------------------------------------------------------------- login

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

fn login_page(token: &str, error: Option<&str>) -> String {
    let error = error.map(error_box).unwrap_or_default();
    page(
        "登录",
        None,
        &format!(
            "<h1>管理员登录 (Admin login)</h1>{error}\
             <form method=\"post\" action=\"/admin/login\">{}\
             <label for=\"password\">密码 (Password)</label>\
             <input type=\"password\" id=\"password\" name=\"password\" required autofocus \
             autocomplete=\"current-password\" size=\"24\"> \
             <button type=\"submit\" id=\"login-button\">登录 (Log in)</button></form>",
            csrf_field(token)
        ),
    )
}

pub(crate) async fn login_form(State(app): AppState, headers: HeaderMap) -> Response {
    let logged_in = cookie(&headers, SESSION_COOKIE)
        .filter(|s| is_token(s))
        .is_some_and(|sid| app.sessions.touch(sid, app.now()).is_some());
    if logged_in {
        return Redirect::to("/admin").into_response();
    }
    let token = match cookie(&headers, LOGIN_COOKIE).filter(|t| is_token(t)) {
        Some(t) => t.to_owned(),
        None => match random_token() {
            Ok(t) => t,
            Err(_) => return no_randomness(),
        },
    };
    let secure = app.config.secure_cookie;
    with_cookie(
        html(StatusCode::OK, login_page(&token, None)),
        &set_cookie(LOGIN_COOKIE, &token, secure, Some(3600)),
    )
}

pub(crate) async fn login(
    State(app): AppState,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let pre = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !origin_ok(&headers) || !is_token(pre) || !same_secret(pre, &form.csrf) {
        return forbidden();
    }
    let now = app.now();
    if let Some(secs) = app.sessions.locked_for(now) {
        audit(&app, "admin_login", "denied", "locked").await;
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            login_page(
                pre,
                Some(&format!(
                    "密码连续错误次数过多，请 {secs} 秒后再试。<br><small>(Too many wrong \
                     passwords; try again in {secs} s.)</small>"
                )),
            ),
        );
    }
    let phc = app.config.password_hash.clone();
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&phc, &password))
        .await
        .unwrap_or(false);
    if !ok {
        app.sessions.record_failure(now);
        audit(&app, "admin_login", "denied", "wrong password").await;
        tokio::time::sleep(app.options.failure_delay).await;
        return html(
            StatusCode::OK,
            login_page(
                pre,
                Some("密码错误，请重新输入。<br><small>(Wrong password.)</small>"),
            ),
        );
    }
    app.sessions.record_success();
    let Ok((sid, _csrf)) = app.sessions.create(now) else {
        return no_randomness();
    };
    audit(&app, "admin_login", "ok", "").await;
    let secure = app.config.secure_cookie;
    let response = with_cookie(
        Redirect::to("/admin").into_response(),
        &set_cookie(SESSION_COOKIE, &sid, secure, None),
    );
    with_cookie(response, &set_cookie(LOGIN_COOKIE, "", secure, Some(0)))
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(app): AppState,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(r) = authed.reject_post(&headers, &form.csrf) {
        return r;
    }
    app.sessions.remove(&authed.sid);
    audit(&app, "admin_logout", "ok", "").await;
    with_cookie(
        Redirect::to("/admin/login").into_response(),
        &set_cookie(SESSION_COOKIE, "", app.config.secure_cookie, Some(0)),
    )
}

// ---------------------------------------------------------------- dashboard

pub(crate) async fn dashboard(State(app): AppState, authed: Authed) -> Response {
    const PATH: &str = "/admin";
    let today = app.today();
    let d = match app.data.dashboard(today).await {
        Ok(d) => d,
        Err(e) => return authed.storage_error(PATH, &e),
    };
    let mut body = format!(
        "<h1>今日概况 (Today) {today}</h1><div class=\"cards\">\
         <div class=\"card\" id=\"certified\">今日认证 (Total)<b>{}</b></div>\
         <div class=\"card\" id=\"passed\">通过 (Passed)<b>{}</b></div>\
         <div class=\"card\" id=\"accepted\">已受理 (Accepted)<b>{}</b></div>\
         <div class=\"card\" id=\"appeal\">人工审核 (Appeal)<b>{}</b></div></div>",
        d.certified, d.passed, d.accepted, d.appeal
    );
    body.push_str("<h2>失败原因 (Failures by reason)</h2>");
    if d.failures_by_reason.is_empty() {
        body.push_str("<p>今日没有失败记录。(No failures today.)</p>");
    } else {
        body.push_str(
            "<table id=\"failures\"><tr><th>原因 (Reason)</th><th>次数 (Count)</th></tr>",
        );
        for (reason, count) in &d.failures_by_reason {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{count}</td></tr>",
                escape(reason)
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<h2>设备队列 (Device queues)</h2><p>各设备待上传合计 (queued on devices): \
         <b id=\"queued\">{}</b>；死信 (dead letters): <b id=\"dead\">{}</b> \
         <a href=\"/admin/devices\">查看设备 (devices)</a></p>",
        d.queued_on_devices, d.dead_on_devices
    );
    authed.page(StatusCode::OK, "今日概况", PATH, &body)
}

// ---------------------------------------------------------------- due

pub(crate) async fn due(State(app): AppState, authed: Authed) -> Response {
    const PATH: &str = "/admin/due";
    let today = app.today();
    let rows = match app.data.due_by_region(today).await {
        Ok(r) => r,
        Err(e) => return authed.storage_error(PATH, &e),
    };
    let mut body = format!(
        "<h1>待认证与逾期 (Due and overdue) {today}</h1>\
         <p><small>待认证：30 天内到期且本周期未认证；逾期：已过截止日期未认证。\
         (Due: deadline within 30 days; overdue: deadline passed.)</small></p>"
    );
    if rows.is_empty() {
        body.push_str("<p>目前没有待认证或逾期的人员。(Nobody is due or overdue.)</p>");
    } else {
        body.push_str(
            "<table id=\"due\"><tr><th>参保地区 (Region)</th><th>待认证 (Due)</th>\
             <th>逾期 (Overdue)</th></tr>",
        );
        let (mut due, mut overdue) = (0u64, 0u64);
        for r in &rows {
            due = due.saturating_add(r.due);
            overdue = overdue.saturating_add(r.overdue);
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td></tr>",
                escape(&r.region),
                r.due,
                if r.overdue > 0 { " bad" } else { "" },
                r.overdue
            );
        }
        let _ = write!(
            body,
            "<tr><th>合计 (Total)</th><th class=\"num\">{due}</th><th class=\"num\">{overdue}</th></tr></table>"
        );
    }
    authed.page(StatusCode::OK, "待认证", PATH, &body)
}

// ---------------------------------------------------------------- person

#[derive(Deserialize)]
pub(crate) struct PersonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

fn person_search(csrf: &str, typed: &str) -> String {
    format!(
        "<h1>人员查询 (Person lookup)</h1>\
         <form method=\"post\" action=\"/admin/person\">{}\
         <label for=\"id\">身份证号 (ID number)</label>\
         <input id=\"id\" name=\"id\" value=\"{}\" size=\"22\" maxlength=\"40\" \
         autocomplete=\"off\" required> \
         <button type=\"submit\" id=\"lookup\">查询 (Look up)</button></form>",
        csrf_field(csrf),
        escape(typed)
    )
}

pub(crate) async fn person_form(authed: Authed) -> Response {
    let body = person_search(&authed.csrf, "");
    authed.page(StatusCode::OK, "人员查询", "/admin/person", &body)
}

fn result_zh(r: CertResult) -> &'static str {
    match r {
        CertResult::Passed => "通过 (passed)",
        CertResult::Accepted => "已受理 (accepted)",
        CertResult::Appeal => "人工审核 (appeal)",
    }
}

fn method_zh(m: Method) -> &'static str {
    match m {
        Method::Kiosk => "自助终端 (kiosk)",
        Method::OfflineEvidence => "离线核验 (offline evidence)",
        Method::Counter => "柜台 (counter)",
    }
}

fn benefit_label(b: BenefitType) -> String {
    format!("{} ({})", b.name_zh(), benefit_code(b))
}

pub(crate) async fn person(
    State(app): AppState,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<PersonForm>,
) -> Response {
    const PATH: &str = "/admin/person";
    if let Some(r) = authed.reject_post(&headers, &form.csrf) {
        return r;
    }
    let mut body = person_search(&authed.csrf, form.id.trim());
    let id = match IdNumber::parse(&form.id) {
        Ok(id) => id,
        Err(e) => {
            body.push_str(&error_box(&format!(
                "{}<br><small>({})</small>",
                escape(&e.user_message_zh()),
                escape(&e.to_string())
            )));
            return authed.page(StatusCode::UNPROCESSABLE_ENTITY, "人员查询", PATH, &body);
        }
    };
    let found = match app.data.find_person(&id, app.today()).await {
        Ok(p) => p,
        Err(e) => return authed.storage_error(PATH, &e),
    };
    let outcome = if found.is_some() {
        "found"
    } else {
        "not found"
    };
    audit(
        &app,
        "person_lookup",
        "ok",
        &format!("{} {outcome}", id.masked()),
    )
    .await;
    let Some(p) = found else {
        body.push_str(&error_box(&format!(
            "未找到 {}：不在名册中。<br><small>(No such person in the roster.)</small>",
            escape(&id.masked())
        )));
        return authed.page(StatusCode::NOT_FOUND, "人员查询", PATH, &body);
    };
    let _ = write!(
        body,
        "<h2>基本信息 (Person)</h2><table id=\"person\">\
         <tr><th>身份证号 (ID)</th><td id=\"person-id\">{}</td></tr>\
         <tr><th>姓名 (Name)</th><td id=\"person-name\">{}</td></tr>\
         <tr><th>参保地区 (Region)</th><td>{}</td></tr></table>",
        escape(&p.id_masked),
        escape(&p.name),
        escape(&p.region)
    );
    body.push_str(
        "<h2>待遇 (Benefits)</h2><table id=\"benefits\"><tr><th>待遇 (Benefit)</th>\
         <th>状态 (Status)</th><th>状态日期 (Since)</th><th>上次认证 (Last certified)</th>\
         <th>下次截止 (Next deadline)</th></tr>",
    );
    for b in &p.benefits {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&benefit_label(b.benefit)),
            escape(b.status.name_zh()),
            escape(b.status.as_str()),
            opt_date(b.status_since),
            opt_date(b.last_certified),
            opt_date(b.next_deadline)
        );
    }
    body.push_str("</table><h2>认证记录 (History)</h2>");
    if p.history.is_empty() {
        body.push_str("<p id=\"history\">暂无认证记录。(No certifications yet.)</p>");
    } else {
        body.push_str(
            "<table id=\"history\"><tr><th>时间 (Time)</th><th>待遇 (Benefit)</th>\
             <th>结果 (Result)</th><th>方式 (Method)</th><th>设备 (Device)</th>\
             <th>相似度 (Score)</th><th>活体检测 (Liveness)</th></tr>",
        );
        for h in &p.history {
            let score = h
                .score
                .map_or_else(|| "—".to_owned(), |s| format!("{s:.2}"));
            let liveness = h
                .liveness
                .as_ref()
                .map_or_else(|| "—".to_owned(), liveness_text);
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"liveness\">{}</td></tr>",
                escape(&local_time(&app, h.at)),
                escape(&benefit_label(h.benefit)),
                result_zh(h.result),
                method_zh(h.method),
                escape(&h.device),
                escape(&score),
                escape(&liveness)
            );
        }
        body.push_str("</table>");
    }
    authed.page(StatusCode::OK, "人员查询", PATH, &body)
}

// ---------------------------------------------------------------- devices

pub(crate) async fn devices(State(app): AppState, authed: Authed) -> Response {
    const PATH: &str = "/admin/devices";
    let list = match app.data.devices().await {
        Ok(l) => l,
        Err(e) => return authed.storage_error(PATH, &e),
    };
    let now = app.now();
    let mut body = String::from(
        "<h1>设备 (Devices)</h1><p><small>黄色行：超过 15 分钟没有心跳。\
         (Yellow: no heartbeat for more than 15 minutes.)</small></p>",
    );
    if list.is_empty() {
        body.push_str(
            "<p>还没有注册的设备。请在“设备注册码”页面生成注册码。\
             (No devices yet; create a registration token.)</p>",
        );
        return authed.page(StatusCode::OK, "设备", PATH, &body);
    }
    body.push_str(
        "<table id=\"devices\"><tr><th>设备 (Device)</th><th>地点 (Site)</th>\
         <th>版本 (Version)</th><th>最近心跳 (Last heartbeat)</th><th>待上传 (Queue)</th>\
         <th>死信 (Dead)</th><th>健康 (Health)</th><th>注册时间 (Registered)</th></tr>",
    );
    for d in &list {
        let stale = d.last_heartbeat.is_none_or(|t| now - t > STALE_AFTER);
        let heartbeat = match d.last_heartbeat {
            None => "从未 (never)".to_owned(),
            Some(t) => {
                let mins = (now - t).whole_minutes().max(0);
                format!("{}（{mins} 分钟前 / min ago）", local_time(&app, t))
            }
        };
        let mut health = String::new();
        for (part, state) in &d.health {
            let class = if state == "ok" { "" } else { " class=\"bad\"" };
            let _ = write!(
                health,
                "<div{class}>{}: {}</div>",
                escape(part),
                escape(state)
            );
        }
        if d.health.is_empty() {
            health.push('—');
        }
        let mut flags = String::new();
        if stale {
            flags.push_str("<div class=\"bad\">心跳超时 (stale)</div>");
        }
        if d.revoked {
            flags.push_str("<div class=\"bad\">已停用 (revoked)</div>");
        }
        let oldest = d
            .oldest_pending_secs
            .map(|s| format!("<br><small>最早 {} 分钟 (oldest)</small>", s / 60))
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr{}><td><b>{}</b><br>{}{flags}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}{oldest}</td><td class=\"num{}\">{}</td><td>{health}</td><td>{}</td></tr>",
            if stale { " class=\"stale\"" } else { "" },
            escape(&d.id),
            escape(&d.name),
            escape(&d.site),
            escape(d.version.as_deref().unwrap_or("—")),
            escape(&heartbeat),
            d.queue_depth,
            if d.dead > 0 { " bad" } else { "" },
            d.dead,
            escape(&local_time(&app, d.registered_at)),
        );
    }
    body.push_str("</table>");
    authed.page(StatusCode::OK, "设备", PATH, &body)
}

// ---------------------------------------------------------------- import

fn import_form_html(csrf: &str) -> String {
    format!(
        "<h1>名册导入 (Roster import)</h1>\
         <p>上传 CSV 文件，第一行为表头 (header)：<br>\
         <code>{}</code></p>\
         <ul><li>benefit：pension（养老）、unemployment（失业）、work_injury（工伤）、\
         dependant_relief（供养亲属）</li>\
         <li>status：active（正常）、suspended（暂停，须填 status_since）、terminated（终止）、\
         identity_changed（身份变更）</li>\
         <li>日期 (dates)：YYYY-MM-DD，可留空 (may be empty)</li>\
         <li>Excel 中请把身份证号列设为“文本”格式，否则会变成科学计数法。\
         UTF-8 与 GBK 编码均可。</li>\
         <li>正确的行会导入，错误的行会逐行列出原因。(Good rows are imported; bad rows are listed.)</li></ul>\
         <form method=\"post\" action=\"/admin/import\" enctype=\"multipart/form-data\">{}\
         <label for=\"file\">CSV 文件 (file)</label>\
         <input type=\"file\" id=\"file\" name=\"file\" accept=\".csv,text/csv\" required> \
         <button type=\"submit\" id=\"upload\">导入 (Import)</button></form>",
        roster::COLUMNS.join(","),
        csrf_field(csrf)
    )
}

pub(crate) async fn import_form(authed: Authed) -> Response {
    let body = import_form_html(&authed.csrf);
    authed.page(StatusCode::OK, "名册导入", "/admin/import", &body)
}

pub(crate) async fn import(
    State(app): AppState,
    authed: Authed,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    const PATH: &str = "/admin/import";
    if !origin_ok(&headers) {
        return forbidden();
    }
    let fail = |status: StatusCode, msg: &str| {
        let body = format!("{}{}", error_box(msg), import_form_html(&authed.csrf));
        authed.page(status, "名册导入", PATH, &body)
    };
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") => match field.bytes().await {
                    Ok(b) => file = Some(b.to_vec()),
                    Err(e) => return upload_failed(&fail, e.status()),
                },
                _ => {}
            },
            Ok(None) => break,
            Err(e) => return upload_failed(&fail, e.status()),
        }
    }
    if !same_secret(&csrf, &authed.csrf) {
        return forbidden();
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "请选择一个 CSV 文件。(Choose a CSV file.)",
        );
    };
    let parsed = match roster::parse_roster(&bytes, app.today()) {
        Ok(p) => p,
        Err(e) => {
            audit(&app, "roster_import", "error", "file rejected").await;
            return fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("未导入任何数据：{}", escape(&e.to_string())),
            );
        }
    };
    let mut errors = parsed.errors;
    let (mut inserted, mut updated, mut not_tried) = (0u64, 0u64, 0u64);
    let mut stopped = None;
    for (line, row) in &parsed.rows {
        if stopped.is_some() {
            not_tried += 1;
            continue;
        }
        match app.data.import_person(row).await {
            Ok(ImportAction::Inserted) => inserted += 1,
            Ok(ImportAction::Updated) => updated += 1,
            Err(AdminDataError::Rejected(why)) => errors.push(RowError {
                line: *line,
                problems: vec![Problem {
                    zh: format!("数据库拒绝：{why}"),
                    en: format!("refused by storage: {why}"),
                }],
            }),
            Err(AdminDataError::Unavailable(why)) => {
                tracing::warn!("roster import stopped: storage unavailable: {why}");
                stopped = Some(*line);
                not_tried += 1;
            }
        }
    }
    errors.sort_by_key(|e| e.line);
    let outcome = if stopped.is_some() { "error" } else { "ok" };
    audit(
        &app,
        "roster_import",
        outcome,
        &format!(
            "inserted {inserted}, updated {updated}, bad rows {}, not imported {not_tried}",
            errors.len()
        ),
    )
    .await;

    let mut body = format!(
        "<h1>导入结果 (Import result)</h1>\
         <div class=\"{}\" id=\"summary\">新增 (inserted) <b id=\"inserted\">{inserted}</b> 行，\
         更新 (updated) <b id=\"updated\">{updated}</b> 行，\
         错误 (bad rows) <b id=\"bad\">{}</b> 行。<small>文件编码 (encoding)：{}</small></div>",
        if errors.is_empty() && stopped.is_none() {
            "ok"
        } else {
            "error"
        },
        errors.len(),
        parsed.encoding.label()
    );
    if let Some(line) = stopped {
        body.push_str(&error_box(&format!(
            "数据库暂时不可用，从第 {line} 行起的 {not_tried} 行未导入，请稍后重新导入整个文件\
             （已导入的行会被更新，不会重复）。<br><small>(Storage became unavailable; \
             {not_tried} rows from row {line} on were not imported. Import the file again \
             later; rows already imported are updated, not duplicated.)</small>"
        )));
    }
    if !errors.is_empty() {
        body.push_str(
            "<h2>错误的行 (Bad rows)：请在文件中修改这些行后重新导入</h2>\
             <table id=\"errors\"><tr><th>行号 (Row)</th><th>问题 (Problem)</th></tr>",
        );
        for e in errors.iter().take(MAX_LISTED_ERRORS) {
            let _ = write!(
                body,
                "<tr><td class=\"num\">{}</td><td>{}<br><small>{}</small></td></tr>",
                e.line,
                escape(&e.message_zh()),
                escape(&e.message_en())
            );
        }
        body.push_str("</table>");
        if errors.len() > MAX_LISTED_ERRORS {
            let _ = write!(
                body,
                "<p>……另有 {} 行错误未列出。(… {} more bad rows not listed.)</p>",
                errors.len() - MAX_LISTED_ERRORS,
                errors.len() - MAX_LISTED_ERRORS
            );
        }
    }
    body.push_str("<p><a href=\"/admin/import\">再导入一个文件 (Import another file)</a></p>");
    authed.page(StatusCode::OK, "导入结果", PATH, &body)
}

fn upload_failed(fail: &impl Fn(StatusCode, &str) -> Response, status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        fail(
            status,
            "文件太大，请拆分后分批导入。(The file is too large; split it.)",
        )
    } else {
        fail(
            StatusCode::BAD_REQUEST,
            "上传没有完成，请重新选择文件再试。(The upload was incomplete; try again.)",
        )
    }
}

// ---------------------------------------------------------------- tokens

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ttl_hours: String,
}

fn token_form_html(csrf: &str, hours: &str) -> String {
    format!(
        "<h1>设备注册码 (Device registration token)</h1>\
         <p>为新的自助终端生成一次性注册码。(A one-time token for registering a kiosk.)</p>\
         <form method=\"post\" action=\"/admin/tokens\">{}\
         <label for=\"ttl_hours\">有效期（小时，1–{MAX_TOKEN_HOURS}） (valid for, hours)</label>\
         <input type=\"number\" id=\"ttl_hours\" name=\"ttl_hours\" min=\"1\" max=\"{MAX_TOKEN_HOURS}\" \
         value=\"{}\" required> \
         <button type=\"submit\" id=\"create-token\">生成 (Create)</button></form>",
        csrf_field(csrf),
        escape(hours)
    )
}

pub(crate) async fn token_form(authed: Authed) -> Response {
    let body = token_form_html(&authed.csrf, "24");
    authed.page(StatusCode::OK, "设备注册码", "/admin/tokens", &body)
}

pub(crate) async fn create_token(
    State(app): AppState,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    const PATH: &str = "/admin/tokens";
    if let Some(r) = authed.reject_post(&headers, &form.csrf) {
        return r;
    }
    let hours = match form.ttl_hours.trim().parse::<u32>() {
        Ok(h) if (1..=MAX_TOKEN_HOURS).contains(&h) => h,
        _ => {
            let body = format!(
                "{}{}",
                error_box(&format!(
                    "有效期应为 1 到 {MAX_TOKEN_HOURS} 之间的整数小时。\
                     <br><small>(Hours must be a whole number from 1 to {MAX_TOKEN_HOURS}.)</small>"
                )),
                token_form_html(&authed.csrf, form.ttl_hours.trim())
            );
            return authed.page(StatusCode::UNPROCESSABLE_ENTITY, "设备注册码", PATH, &body);
        }
    };
    let token = match app
        .data
        .create_device_token(Duration::from_secs(u64::from(hours) * 3600))
        .await
    {
        Ok(t) => t,
        Err(e) => return authed.storage_error(PATH, &e),
    };
    audit(&app, "token_created", "ok", &format!("ttl {hours} h")).await;
    let url = server_url(&app, &headers);
    let expires = local_time(
        &app,
        app.now() + Duration::from_secs(u64::from(hours) * 3600),
    );
    let body = format!(
        "<h1>设备注册码 (Device registration token)</h1>\
         <div class=\"ok\">注册码已生成，<b>只显示这一次</b>，请现在抄下或复制。\
         有效至 {}。<br><small>(Shown only once. Valid until {}.)</small></div>\
         <p>注册码 (token)：</p><div class=\"token\" id=\"token\">{}</div>\
         <p>在自助终端上运行 (run on the kiosk)：</p>\
         <pre class=\"token\" id=\"command\">lifecert register --server {} --token {}</pre>\
         <p><a href=\"/admin/tokens\">再生成一个 (Create another)</a></p>",
        escape(&expires),
        escape(&expires),
        escape(&token),
        escape(&url),
        escape(&token)
    );
    authed.page(StatusCode::OK, "设备注册码", PATH, &body)
}

/// The URL kiosks register with: the configured one, else this request's host.
fn server_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(url) = &app.options.public_url {
        return url.clone();
    }
    let scheme = if app.config.secure_cookie {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("SERVER:PORT");
    format!("{scheme}://{host}")
}

/// One line of a record's liveness summary for staff: the plan and seed, the
/// actions' times, each check's result and figure, the screen light, the
/// camera. No images and no biometric data are ever part of it.
pub(crate) fn liveness_text(l: &lifecert_protocol::LivenessSummary) -> String {
    let mut parts = vec![format!(
        "{} (seed {}, {:.1} s)",
        l.actions.join(", "),
        l.seed,
        l.duration_ms as f64 / 1000.0
    )];
    if let Some(o) = &l.outcome {
        parts.push(format!("outcome {o}"));
    }
    for s in &l.steps {
        parts.push(match s.done_ms {
            Some(d) => format!(
                "{} {:.1}→{:.1} s",
                s.action,
                s.prompted_ms as f64 / 1000.0,
                d as f64 / 1000.0
            ),
            None => format!(
                "{} {:.1} s→not done",
                s.action,
                s.prompted_ms as f64 / 1000.0
            ),
        });
    }
    for c in &l.checks {
        parts.push(format!(
            "{} {} ({:.3})",
            c.name,
            if c.passed { "ok" } else { "FAILED" },
            c.score
        ));
    }
    if let Some(f) = &l.flash {
        parts.push(format!(
            "screen light {}: r {:.2}, response {:.3}, shape {}, lag {} ms, {} frames",
            f.verdict,
            f.correlation,
            f.response,
            f.shape_ratio
                .map_or_else(|| "–".to_owned(), |s| format!("{s:.2}")),
            f.lag_ms,
            f.frames
        ));
    }
    if let Some(c) = &l.camera {
        parts.push(format!("camera {c}"));
    }
    if let Some(locked) = l.exposure_locked {
        parts.push(format!(
            "exposure locked: {}",
            if locked { "yes" } else { "no" }
        ));
    }
    if let Some(p) = l.pad_mean {
        parts.push(format!("PAD mean {p:.2}"));
    }
    parts.join("; ")
}
