//! HTML helpers: escaping and the shared page layout. Pages are plain
//! server-rendered HTML with large, readable type and no JavaScript.

use std::fmt::Write as _;

/// Escapes text for HTML element content and double-quoted attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The style sheet: big type, high contrast, wide tables.
const CSS: &str = "
body{font-family:'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif;font-size:20px;
line-height:1.5;margin:0;color:#111;background:#f6f6f3}
header{background:#1d4e89;color:#fff;padding:.6em 1.2em;display:flex;flex-wrap:wrap;align-items:center;gap:1.2em}
header a{color:#fff;font-weight:bold;text-decoration:none;padding:.2em .4em}
header a.on{border-bottom:4px solid #ffd54a}
header form{margin-left:auto}
main{padding:1em 1.5em;max-width:1200px}
h1{font-size:1.6em;margin:.4em 0}
table{border-collapse:collapse;margin:.6em 0;background:#fff;min-width:50%}
th,td{border:1px solid #999;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#e3e8ef}
td.num{text-align:right;font-variant-numeric:tabular-nums}
input,button,select{font-size:1em;padding:.3em .5em}
button{background:#1d4e89;color:#fff;border:0;border-radius:4px;padding:.4em 1.2em;cursor:pointer}
header button{background:#fff;color:#1d4e89}
.error{background:#fde2e2;border-left:6px solid #b00020;padding:.5em 1em;margin:.6em 0}
.ok{background:#e2f5e6;border-left:6px solid #1b7f3b;padding:.5em 1em;margin:.6em 0}
.stale td{background:#fff1c7}
.bad{color:#b00020;font-weight:bold}
.token{font-family:monospace;font-size:1.2em;background:#fff;border:2px dashed #1d4e89;padding:.5em;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:1em}
.card{background:#fff;border:1px solid #bbb;border-radius:6px;padding:.6em 1.2em;min-width:8em}
.card b{display:block;font-size:2em}
label{display:block;margin:.5em 0}
small{color:#444}
";

/// The navigation entries: path, label.
const NAV: [(&str, &str); 6] = [
    ("/admin", "今日概况 (Dashboard)"),
    ("/admin/due", "待认证 (Due)"),
    ("/admin/person", "人员查询 (Person)"),
    ("/admin/devices", "设备 (Devices)"),
    ("/admin/import", "名册导入 (Import)"),
    ("/admin/tokens", "设备注册码 (Tokens)"),
];

/// A full page. `nav` is `Some((current_path, csrf_token))` for logged-in
/// pages (shows the menu and the logout button), `None` for the login and
/// error pages. `body` must already be escaped HTML.
#[must_use]
pub fn page(title: &str, nav: Option<(&str, &str)>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · lifecert 管理</title><style>{CSS}</style></head><body><header>\
         <strong>lifecert 管理后台</strong>",
        escape(title)
    );
    if let Some((current, csrf)) = nav {
        for (path, label) in NAV {
            let class = if path == current { " class=\"on\"" } else { "" };
            let _ = write!(out, "<a href=\"{path}\"{class}>{label}</a>");
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/admin/logout\">{}\
             <button type=\"submit\" id=\"logout\">退出 (Log out)</button></form>",
            csrf_field(csrf)
        );
    }
    let _ = write!(out, "</header><main>{body}</main></body></html>");
    out
}

/// The hidden CSRF field of every form.
#[must_use]
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(token)
    )
}

/// An error box.
#[must_use]
pub fn error_box(message_html: &str) -> String {
    format!("<div class=\"error\" role=\"alert\">{message_html}</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("张三 plain"), "张三 plain");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn page_escapes_title_and_csrf() {
        let html = page("<b>", Some(("/admin", "a\"b")), "<p>ok</p>");
        assert!(html.contains("<title>&lt;b&gt; ·"));
        assert!(html.contains("value=\"a&quot;b\""));
        assert!(html.contains("<a href=\"/admin\" class=\"on\">"));
        assert!(html.contains("<p>ok</p>"));
        let login = page("登录", None, "");
        assert!(!login.contains("/admin/logout"));
    }
}
