//! A tiny scripted "browser": a cookie-keeping HTTP client that walks the
//! OP's HTML pages (login, consent) the way a person would, and stops at the
//! first redirect (or `form_post` page) addressed to the client's
//! `redirect_uri`, which is never contacted.
//!
//! It also holds the deliberately small HTML scanner used to find `<form>`s
//! and their controls; no JavaScript, no DOM, just attributes.

use std::time::Duration;

use reqwest::header::LOCATION;
use reqwest::redirect::Policy;
use url::Url;

/// How many HTTP exchanges one authorization may take before we give up.
const MAX_STEPS: usize = 20;
/// How many times the same kind of page (login, consent) is answered in one walk.
const MAX_REPEATS: usize = 2;

/// The account the browser logs in with.
#[derive(Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// The first request of a walk.
#[derive(Clone, Debug)]
pub(crate) enum Start {
    Get(Url),
    Post(Url, Vec<(String, String)>),
}

/// Where a walk ended.
#[derive(Clone, Debug)]
pub(crate) enum Landing {
    /// A 3xx whose `Location` starts with the client's `redirect_uri` (or
    /// another URI the browser was told to stop at).
    Redirect { url: Url },
    /// An auto-submitting `form_post` page aimed at the `redirect_uri`.
    FormPost { action: String, params: Vec<(String, String)> },
    /// A page the browser has no script for (an error page, a login page
    /// shown once too often, ...).
    Page { status: u16, url: Url, body: String },
    /// A redirect to some other origin that is not the `redirect_uri`.
    Elsewhere { status: u16, location: String },
}

impl Landing {
    /// A short human description for failure messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Landing::Redirect { url } => format!("a redirect to {url}"),
            Landing::FormPost { action, .. } => format!("a form_post page aimed at {action}"),
            Landing::Page { status, url, body } => {
                format!("a page (HTTP {status} at {url}): {}", page_summary(body))
            }
            Landing::Elsewhere { status, location } => {
                format!("a redirect (HTTP {status}) to {location}")
            }
        }
    }
}

/// The result of one walk through the OP's pages.
#[derive(Clone, Debug)]
pub(crate) struct Visit {
    pub landing: Landing,
    /// How many login forms were filled in.
    pub logins: usize,
    /// How many consent forms were approved.
    pub consents: usize,
}

/// A browser with its own cookie jar. One per check, so checks do not share
/// sessions unless they mean to.
pub(crate) struct Browser {
    http: reqwest::Client,
    /// Where a walk stops: the client's `redirect_uri` and any other
    /// client-side URI (a post-logout redirect URI), matched as prefixes.
    stops: Vec<String>,
}

impl Browser {
    /// A new browser with an empty cookie jar.
    pub(crate) fn new(redirect_uri: &str) -> Result<Self, String> {
        Self::with_stops(&[redirect_uri])
    }

    /// A new browser with an empty cookie jar that stops at any of `stops`
    /// (the first being the client's `redirect_uri`).
    pub(crate) fn with_stops(stops: &[&str]) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .user_agent("dinhdanh-conformance/0.1")
            .build()
            .map_err(|e| format!("cannot build the browser's HTTP client: {e}"))?;
        Ok(Self { http, stops: stops.iter().map(|s| (*s).to_string()).collect() })
    }

    fn is_stop(&self, url: &str) -> bool {
        self.stops.iter().any(|s| !s.is_empty() && url.starts_with(s.as_str()))
    }

    /// Follows the OP's own redirects and answers its login and consent
    /// forms until something addressed to the `redirect_uri` (or anything
    /// else it cannot handle) comes back.
    pub(crate) async fn visit(&self, start: Start, creds: Credentials<'_>) -> Result<Visit, String> {
        let mut next = start;
        let mut logins = 0;
        let mut consents = 0;
        for _ in 0..MAX_STEPS {
            let (page_url, request) = match next {
                Start::Get(url) => (url.clone(), self.http.get(url)),
                Start::Post(url, form) => (url.clone(), self.http.post(url).form(&form)),
            };
            let response = request.send().await.map_err(|e| format!("request to {page_url} failed: {e}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("HTTP {status} from {page_url} without a Location"))?
                    .to_string();
                let target =
                    page_url.join(&location).map_err(|e| format!("bad Location {location:?} from {page_url}: {e}"))?;
                if self.is_stop(target.as_str()) {
                    return Ok(Visit { landing: Landing::Redirect { url: target }, logins, consents });
                }
                if target.origin() == page_url.origin() {
                    next = Start::Get(target);
                    continue;
                }
                return Ok(Visit {
                    landing: Landing::Elsewhere { status: status.as_u16(), location: target.to_string() },
                    logins,
                    consents,
                });
            }
            let url = response.url().clone();
            let body = response.text().await.map_err(|e| format!("cannot read the page at {url}: {e}"))?;
            let forms = scan_forms(&body);
            let page = |body: String| Landing::Page { status: status.as_u16(), url: url.clone(), body };

            if let Some(form) = forms.iter().find(|f| f.is_login()) {
                if logins >= MAX_REPEATS {
                    return Ok(Visit { landing: page(body), logins, consents });
                }
                logins += 1;
                next = form.submission(
                    &url,
                    vec![
                        ("username".to_string(), creds.username.to_string()),
                        ("password".to_string(), creds.password.to_string()),
                    ],
                )?;
                continue;
            }
            if let Some((form, decision)) = forms.iter().find_map(|f| f.consent_allow().map(|d| (f, d))) {
                if consents >= MAX_REPEATS {
                    return Ok(Visit { landing: page(body), logins, consents });
                }
                consents += 1;
                next = form.submission(&url, vec![decision])?;
                continue;
            }
            if let Some((action, form)) = forms.iter().find_map(|f| {
                let action = f.resolved_action(&url).ok()?;
                (f.method == "post" && self.is_stop(action.as_str())).then_some((action, f))
            }) {
                return Ok(Visit {
                    landing: Landing::FormPost { action: action.to_string(), params: form.hidden() },
                    logins,
                    consents,
                });
            }
            return Ok(Visit { landing: page(body), logins, consents });
        }
        Err(format!("gave up after {MAX_STEPS} requests without reaching the redirect_uri"))
    }
}

/// The title (or else the start of the visible text) of an HTML page, for
/// failure messages.
pub(crate) fn page_summary(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>"))
        && start + 7 <= end
    {
        let title = decode_entities(body[start + 7..end].trim());
        if !title.is_empty() {
            return title;
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(160).collect()
}

/// One `<form>` of a page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Form {
    /// `get` or `post` (lower case; `get` when absent).
    pub method: String,
    /// The raw (entity-decoded) `action` attribute, if any.
    pub action: Option<String>,
    /// `<input>`, `<button>`, `<select>` and `<textarea>` elements, in order.
    pub controls: Vec<Control>,
}

/// One form control.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Control {
    /// `input`, `button`, `select` or `textarea`.
    pub tag: String,
    /// The `type` attribute in lower case (`text` for inputs and `submit`
    /// for buttons when absent).
    pub kind: String,
    pub name: Option<String>,
    pub value: Option<String>,
}

impl Form {
    /// Named hidden inputs, as name/value pairs.
    pub(crate) fn hidden(&self) -> Vec<(String, String)> {
        self.controls
            .iter()
            .filter(|c| c.tag == "input" && c.kind == "hidden")
            .filter_map(|c| c.name.clone().map(|n| (n, c.value.clone().unwrap_or_default())))
            .collect()
    }

    fn has_field(&self, name: &str) -> bool {
        self.controls.iter().any(|c| c.tag == "input" && c.name.as_deref() == Some(name))
    }

    /// A login form has inputs named `username` and `password`.
    pub(crate) fn is_login(&self) -> bool {
        self.has_field("username") && self.has_field("password")
    }

    /// The `decision=allow` submit control of a consent form, if this is one.
    pub(crate) fn consent_allow(&self) -> Option<(String, String)> {
        self.controls
            .iter()
            .find(|c| {
                (c.tag == "button" || (c.tag == "input" && c.kind == "submit"))
                    && c.name.as_deref() == Some("decision")
                    && c.value.as_deref() == Some("allow")
            })
            .map(|_| ("decision".to_string(), "allow".to_string()))
    }

    /// The `logout=yes` submit control of an RP-Initiated Logout
    /// confirmation form, if this is one.
    pub(crate) fn logout_confirm(&self) -> Option<(String, String)> {
        self.controls
            .iter()
            .find(|c| {
                (c.tag == "button" || (c.tag == "input" && c.kind == "submit"))
                    && c.name.as_deref() == Some("logout")
                    && c.value.as_deref() == Some("yes")
            })
            .map(|_| ("logout".to_string(), "yes".to_string()))
    }

    /// The form's `action` resolved against the page it came from (an
    /// absent or empty action means the page itself).
    pub(crate) fn resolved_action(&self, page: &Url) -> Result<Url, String> {
        match self.action.as_deref().map(str::trim) {
            Some(action) if !action.is_empty() => {
                page.join(action).map_err(|e| format!("bad form action {action:?}: {e}"))
            }
            _ => Ok(page.clone()),
        }
    }

    /// The request that submitting this form would make: every hidden input
    /// plus `extra` (which wins over a hidden input of the same name).
    pub(crate) fn submission(&self, page: &Url, extra: Vec<(String, String)>) -> Result<Start, String> {
        let action = self.resolved_action(page)?;
        let mut fields: Vec<(String, String)> =
            self.hidden().into_iter().filter(|(n, _)| !extra.iter().any(|(e, _)| e == n)).collect();
        fields.extend(extra);
        if self.method == "post" {
            Ok(Start::Post(action, fields))
        } else {
            let mut url = action;
            url.query_pairs_mut().clear().extend_pairs(fields);
            Ok(Start::Get(url))
        }
    }
}

/// One start or end tag.
#[derive(Debug, PartialEq, Eq)]
struct Tag {
    name: String,
    closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Elements whose content is raw text (so a `<form` inside a script is not a form).
const RAW_TEXT: [&str; 4] = ["script", "style", "textarea", "title"];

/// Splits HTML into tags, skipping comments, doctypes and raw-text content.
/// Attribute names are lower-cased; values are entity-decoded.
fn tags(html: &str) -> Vec<Tag> {
    let bytes = html.as_bytes();
    let lower = html.to_ascii_lowercase();
    let len = bytes.len();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let start = i + offset;
        if html[start..].starts_with("<!--") {
            i = html[start + 4..].find("-->").map_or(len, |p| start + 4 + p + 3);
            continue;
        }
        let mut j = start + 1;
        let closing = bytes.get(j) == Some(&b'/');
        if closing {
            j += 1;
        }
        let name_start = j;
        while j < len && bytes[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if j == name_start {
            // "<" in text, "<!DOCTYPE", "<?xml": not a tag we care about.
            i = start + 1;
            continue;
        }
        let name = lower[name_start..j].to_string();
        let mut attrs = Vec::new();
        loop {
            while j < len && (bytes[j].is_ascii_whitespace() || bytes[j] == b'/') {
                j += 1;
            }
            if j >= len {
                break;
            }
            if bytes[j] == b'>' {
                j += 1;
                break;
            }
            let attr_start = j;
            while j < len && !bytes[j].is_ascii_whitespace() && !matches!(bytes[j], b'=' | b'>' | b'/') {
                j += 1;
            }
            if j == attr_start {
                // A stray character such as a lone quote: skip it.
                j += 1;
                continue;
            }
            let attr_name = lower[attr_start..j].to_string();
            let mut k = j;
            while k < len && bytes[k].is_ascii_whitespace() {
                k += 1;
            }
            let mut value = String::new();
            if k < len && bytes[k] == b'=' {
                k += 1;
                while k < len && bytes[k].is_ascii_whitespace() {
                    k += 1;
                }
                if k < len && (bytes[k] == b'"' || bytes[k] == b'\'') {
                    let quote = bytes[k] as char;
                    let value_start = k + 1;
                    let value_end = html[value_start..].find(quote).map_or(len, |p| value_start + p);
                    value = decode_entities(&html[value_start..value_end]);
                    k = (value_end + 1).min(len);
                } else {
                    let value_start = k;
                    while k < len && !bytes[k].is_ascii_whitespace() && bytes[k] != b'>' {
                        k += 1;
                    }
                    value = decode_entities(&html[value_start..k]);
                }
                j = k;
            }
            attrs.push((attr_name, value));
        }
        i = j.min(len);
        if !closing && RAW_TEXT.contains(&name.as_str()) {
            let end_tag = format!("</{name}");
            i = lower[i..].find(&end_tag).map_or(len, |p| i + p);
        }
        out.push(Tag { name, closing, attrs });
    }
    out
}

/// Finds every `<form>` in a page with its controls.
pub(crate) fn scan_forms(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut current: Option<Form> = None;
    for tag in tags(html) {
        match (tag.name.as_str(), tag.closing) {
            ("form", false) => {
                if let Some(done) = current.take() {
                    forms.push(done);
                }
                current = Some(Form {
                    method: tag.attr("method").map_or_else(|| "get".to_string(), |m| m.trim().to_ascii_lowercase()),
                    action: tag.attr("action").map(str::to_string),
                    controls: Vec::new(),
                });
            }
            ("form", true) => {
                if let Some(done) = current.take() {
                    forms.push(done);
                }
            }
            ("input" | "button" | "select" | "textarea", false) => {
                if let Some(form) = current.as_mut() {
                    let default_kind = match tag.name.as_str() {
                        "input" => "text",
                        "button" => "submit",
                        other => other,
                    };
                    form.controls.push(Control {
                        kind: tag
                            .attr("type")
                            .map_or_else(|| default_kind.to_string(), |t| t.trim().to_ascii_lowercase()),
                        name: tag.attr("name").map(str::to_string),
                        value: tag.attr("value").map(str::to_string),
                        tag: tag.name,
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(done) = current {
        forms.push(done);
    }
    forms
}

/// The `href` of every `<a>` in a page, entity-decoded, in order.
pub(crate) fn links(html: &str) -> Vec<String> {
    tags(html)
        .into_iter()
        .filter(|t| t.name == "a" && !t.closing)
        .filter_map(|t| t.attr("href").map(str::to_string))
        .collect()
}

/// Decodes the HTML character references that matter for attribute values:
/// the named ones for markup characters plus numeric references. Anything
/// unknown is left as it is.
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let semi = rest.as_bytes().iter().take(12).position(|&b| b == b';');
        if let Some(c) = semi.and_then(|semi| decode_reference(&rest[1..semi])) {
            out.push(c);
            rest = &rest[semi.map_or(1, |s| s + 1)..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

fn decode_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &str = r#"<!DOCTYPE html>
<html><head><title>Sign in &amp; continue</title>
<script>var x = "<form action='/nope'>";</script></head>
<body>
<!-- <form action="/commented"> -->
<form method="POST" action="/login?return=%2Fauthorize&amp;x=1">
  <input type="hidden" name="csrf" value="a&quot;b&#x2F;c&#47;d">
  <input type=hidden name=flow value=abc123 />
  <label>User <input name="username" autocomplete="username"></label>
  <input type="password" name="password">
  <button type="submit">Sign in</button>
</form>
</body></html>"#;

    #[test]
    fn finds_the_login_form_and_decodes_attributes() {
        let forms = scan_forms(LOGIN);
        assert_eq!(forms.len(), 1, "{forms:?}");
        let form = &forms[0];
        assert_eq!(form.method, "post");
        assert_eq!(form.action.as_deref(), Some("/login?return=%2Fauthorize&x=1"));
        assert!(form.is_login());
        assert_eq!(form.consent_allow(), None);
        assert_eq!(
            form.hidden(),
            vec![("csrf".to_string(), "a\"b/c/d".to_string()), ("flow".to_string(), "abc123".to_string()),]
        );
        assert_eq!(page_summary(LOGIN), "Sign in & continue");
    }

    #[test]
    fn consent_form_with_allow_button() {
        let html = r#"<form method="post" action="consent">
            <input type="hidden" name="csrf" value="t">
            <button type="submit" name="decision" value="deny">Deny</button>
            <button type="submit" name="decision" value="allow">Allow</button>
        </form>"#;
        let forms = scan_forms(html);
        assert_eq!(forms.len(), 1);
        assert!(!forms[0].is_login());
        assert_eq!(forms[0].consent_allow(), Some(("decision".to_string(), "allow".to_string())));
    }

    #[test]
    fn consent_submission_resolves_relative_action() {
        let html = r#"<form method="post" action="consent"><input type="hidden" name="csrf" value="t"><input type="submit" name="decision" value="allow"></form>"#;
        let forms = scan_forms(html);
        assert_eq!(forms.len(), 1);
        let page = Url::parse("http://op.test/authorize/step?x=1").ok();
        let start = page.as_ref().map(|p| forms[0].submission(p, vec![("decision".into(), "allow".into())]));
        match start {
            Some(Ok(Start::Post(url, fields))) => {
                assert_eq!(url.as_str(), "http://op.test/authorize/consent");
                assert_eq!(
                    fields,
                    vec![("csrf".to_string(), "t".to_string()), ("decision".to_string(), "allow".to_string())]
                );
            }
            other => panic!("unexpected submission {other:?}"),
        }
    }

    #[test]
    fn get_form_submission_puts_fields_in_query_and_empty_action_is_the_page() {
        let html = r#"<form><input type="hidden" name="a" value="1 2"></form>"#;
        let forms = scan_forms(html);
        assert_eq!(forms[0].method, "get");
        let page = Url::parse("https://op.test/x?old=1").ok();
        match page.as_ref().map(|p| forms[0].submission(p, vec![])) {
            Some(Ok(Start::Get(url))) => assert_eq!(url.as_str(), "https://op.test/x?a=1+2"),
            other => panic!("unexpected submission {other:?}"),
        }
    }

    #[test]
    fn form_post_response_page() {
        let html = r#"<html><body onload="document.forms[0].submit()">
<form method="post" action="https://rp.example/cb">
<input type="hidden" name="code" value="c0de"/>
<input type="hidden" name="state" value="s&#x3D;1"/>
<input type="hidden" name="iss" value="http://127.0.0.1:8080"/>
<noscript><button type="submit">Continue</button></noscript>
</form></body></html>"#;
        let forms = scan_forms(html);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].action.as_deref(), Some("https://rp.example/cb"));
        assert_eq!(
            forms[0].hidden(),
            vec![
                ("code".to_string(), "c0de".to_string()),
                ("state".to_string(), "s=1".to_string()),
                ("iss".to_string(), "http://127.0.0.1:8080".to_string()),
            ]
        );
    }

    #[test]
    fn several_forms_single_quotes_and_unclosed_form() {
        let html = "<FORM Method='get' ACTION='/a'><INPUT TYPE='HIDDEN' NAME='k' VALUE='v'></FORM>\
                    <form method=post action=/b><input name=username><input name=password>";
        let forms = scan_forms(html);
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].method, "get");
        assert_eq!(forms[0].hidden(), vec![("k".to_string(), "v".to_string())]);
        assert_eq!(forms[1].action.as_deref(), Some("/b"));
        assert!(forms[1].is_login());
    }

    #[test]
    fn logout_confirmation_form_and_links() {
        let html = r#"<form method="post" action="/end_session/confirm">
<input type="hidden" name="id" value="i1"><input type="hidden" name="csrf" value="c1">
<button type="submit" name="logout" value="yes">Sign out</button>
<button type="submit" name="logout" value="no">Stay</button></form>
<p><a id="continue" href="https://rp.example/bye?state=s&amp;x=1">Continue</a><a name="x">no href</a></p>"#;
        let forms = scan_forms(html);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].logout_confirm(), Some(("logout".to_string(), "yes".to_string())));
        assert_eq!(forms[0].consent_allow(), None);
        assert!(!forms[0].is_login());
        assert_eq!(links(html), vec!["https://rp.example/bye?state=s&x=1".to_string()]);
        let no = r#"<form><button name="logout" value="no">Stay</button></form>"#;
        assert_eq!(scan_forms(no)[0].logout_confirm(), None);
    }

    #[test]
    fn stops_match_any_prefix() {
        let b = Browser::with_stops(&["https://rp.example/cb", "https://rp.example/bye"]).unwrap();
        assert!(b.is_stop("https://rp.example/cb?code=1"));
        assert!(b.is_stop("https://rp.example/bye?state=s"));
        assert!(!b.is_stop("https://rp.example/other"));
        let empty = Browser::with_stops(&["https://rp.example/cb", ""]).unwrap();
        assert!(!empty.is_stop("https://anything.example/"));
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("a&amp;b&lt;c&gt;d"), "a&b<c>d");
        assert_eq!(decode_entities("&#x2F;&#47;&#X41;&apos;&quot;"), "//A'\"");
        assert_eq!(decode_entities("AT&T &unknown; &"), "AT&T &unknown; &");
        assert_eq!(decode_entities("tiếng Việt &amp; ok"), "tiếng Việt & ok");
        assert_eq!(decode_entities("&#xD800;"), "&#xD800;");
    }

    #[test]
    fn tags_outside_forms_and_stray_characters_are_ignored() {
        let html = r#"<p>1 < 2</p><input name="x"><form action="/f" "oops" disabled><input name="y" value=""></form>"#;
        let forms = scan_forms(html);
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].controls.len(), 1);
        assert_eq!(forms[0].controls[0].name.as_deref(), Some("y"));
        assert_eq!(forms[0].controls[0].value.as_deref(), Some(""));
        assert_eq!(forms[0].controls[0].kind, "text");
    }
}
