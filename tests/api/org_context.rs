//! Acting for an organisation: after signing in, a person who represents organisations
//! chooses the context (themselves or one organisation); the choice is audited, kept
//! for single sign-on, re-opened by `prompt=select_account`, and travels as `vn_org` in
//! the ID token, userinfo, the JWT access token and introspection, and at refresh — until
//! the representation is revoked.

use dinhdanh::flows::orgs::{self, NewOrganisation, NewRepresentation};
use serde_json::json;

use crate::helpers::*;

const TAX: &str = "0100109106";

async fn setup() -> (TestApp, String, String) {
    setup_scoped(&[]).await
}

async fn setup_scoped(rep_scope: &[&str]) -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    app.client(json!({
        "client_id": "portal", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "client_name": "Cổng dịch vụ công", "scope": "openid profile org offline_access",
        "grant_types": ["authorization_code", "refresh_token"],
    }))
    .await;
    let person = app.user("an.nguyen").await;
    let store = app.running.state.services.store.as_ref();
    let org = orgs::create_org(
        store,
        "admin:test",
        NewOrganisation { tax_code: Some(TAX.into()), name: "Công ty TNHH An Bình".into(), ..Default::default() },
        T0,
    )
    .await
    .unwrap();
    let rep = orgs::add_representation(
        store,
        "admin:test",
        &org.id.0,
        NewRepresentation {
            person_id: Some(person.clone()),
            role: "legal_representative".into(),
            scope: rep_scope.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        },
        T0,
    )
    .await
    .unwrap();
    (app, rep.id.0, org.id.0)
}

/// Authorize, log in; returns the context picker page.
async fn picker(app: &TestApp, browser: &reqwest::Client, extra: &[(&str, &str)]) -> String {
    let r = app.follow(browser, &app.authorize_url("portal", extra)).await;
    let page = r.text().await.unwrap();
    let r = if page.contains("name=\"password\"") {
        app.login(browser, &page, "an.nguyen", PASSWORD).await
    } else {
        panic!("{page}")
    };
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"context\""), "picker expected: {page}");
    page
}

async fn choose(app: &TestApp, browser: &reqwest::Client, page: &str, choice: &str) -> reqwest::Response {
    let action = form_action(page);
    let csrf = hidden(page, "csrf");
    let r = app.post_form(browser, &action, &[("csrf", &csrf), ("context", choice)]).await;
    if location(&r).is_some() {
        return r;
    }
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"decision\""), "consent expected: {page}");
    app.approve(browser, &page).await
}

#[tokio::test]
async fn a_representative_acts_for_the_organisation_and_the_tokens_say_so() {
    let (app, rep, org) = setup().await;
    let browser = app.browser();
    let scope = [("scope", "openid profile org offline_access")];
    let page = picker(&app, &browser, &scope).await;
    assert!(page.contains("Công ty TNHH An Bình") && page.contains(TAX), "the organisation is offered");
    assert!(page.contains("value=\"self\""), "acting for oneself is offered");
    let r = choose(&app, &browser, &page, &rep).await;
    let code = code_of(&r);
    let t = app.redeem("portal", &code.code, VERIFIER).await;
    assert_eq!(t.status(), 200);
    let t: serde_json::Value = t.json().await.unwrap();
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["vn_account_type"], "enterprise");
    assert_eq!(id["vn_org"]["tax_code"], TAX);
    assert_eq!(id["vn_org"]["org_id"], org.as_str());
    assert_eq!(id["vn_org"]["role"], "legal_representative");
    assert_eq!(id["vn_org"]["source"], "admin");
    assert_ne!(id["sub"], org.as_str(), "the subject stays the person");
    let access = claims(t["access_token"].as_str().unwrap());
    assert_eq!(access["vn_org"]["tax_code"], TAX, "resource servers see the context too");
    let info = userinfo_of(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["vn_org"]["name"], "Công ty TNHH An Bình");
    let intro: serde_json::Value = app
        .api()
        .post(app.url("/introspect"))
        .basic_auth("portal", Some(SECRET))
        .form(&[("token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["vn_org"]["tax_code"], TAX);

    // Single sign-on keeps the choice without asking again.
    let r = app.follow(&browser, &app.authorize_url("portal", &scope)).await;
    let again = code_of(&r);
    let t2: serde_json::Value = app.redeem("portal", &again.code, VERIFIER).await.json().await.unwrap();
    assert_eq!(claims(t2["id_token"].as_str().unwrap())["vn_org"]["org_id"], org.as_str());

    // prompt=select_account re-opens the choice; acting for oneself drops vn_org.
    let r = app.follow(&browser, &app.authorize_url("portal", &[scope[0], ("prompt", "select_account")])).await;
    let page = r.text().await.unwrap();
    let action = form_action(&page);
    let csrf = hidden(&page, "csrf");
    let r = app.post_form(&browser, &action, &[("csrf", &csrf), ("action", "continue")]).await;
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"context\""), "select_account shows the picker: {page}");
    let r = choose(&app, &browser, &page, "self").await;
    let mine = code_of(&r);
    let t3: serde_json::Value = app.redeem("portal", &mine.code, VERIFIER).await.json().await.unwrap();
    let id3 = claims(t3["id_token"].as_str().unwrap());
    assert_eq!(id3["vn_account_type"], "citizen");
    assert!(id3.get("vn_org").is_none());

    // Both choices are in the audit log, naming the organisation, never a tax code.
    let store = app.running.state.services.store.as_ref();
    let events = store.audit_events(0, 1000).await.unwrap();
    let chosen: Vec<_> = events.iter().filter(|e| e.event.action == "context.choose").collect();
    assert_eq!(chosen.len(), 2);
    assert_eq!(chosen[0].event.subject.as_deref(), Some(format!("org:{org}").as_str()));
    assert_eq!(chosen[1].event.subject.as_deref(), Some("self"));

    // Revoking the representation: the refresh token of the organisation grant no
    // longer carries it.
    orgs::revoke_representation(store, "admin:test", &rep, T0).await.unwrap();
    let r: serde_json::Value = app
        .api()
        .post(app.url("/token"))
        .basic_auth("portal", Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed = claims(r["id_token"].as_str().unwrap());
    assert_eq!(refreshed["vn_account_type"], "citizen", "{r}");
    assert!(refreshed.get("vn_org").is_none());
}

#[tokio::test]
async fn a_choice_that_was_not_offered_is_refused_and_audited() {
    let (app, _rep, _org) = setup().await;
    let browser = app.browser();
    let page = picker(&app, &browser, &[("scope", "openid org")]).await;
    let action = form_action(&page);
    let csrf = hidden(&page, "csrf");
    let r = browser
        .post(app.url(&action))
        .form(&[("csrf", csrf.as_str()), ("context", "someone-elses")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(location(&r).is_none(), "never redirected to the client");
    let events = app.running.state.services.store.audit_events(0, 1000).await.unwrap();
    assert!(events.iter().any(|e| e.event.action == "context.choose" && e.event.outcome == "refused"));
    // A wrong CSRF token is refused too.
    let r = browser.post(app.url(&action)).form(&[("csrf", "nope"), ("context", "self")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn prompt_none_cannot_choose_for_the_person() {
    // The representation covers only the portal: signing in at another client asks
    // nothing, and a later silent request from the portal for `org` cannot choose.
    let (app, rep, _org) = setup_scoped(&["client:portal"]).await;
    app.client(json!({
        "client_id": "other", "client_secret": SECRET, "redirect_uris": [REDIRECT],
        "scope": "openid", "client_name": "Khác",
    }))
    .await;
    let browser = app.browser();
    let r = app.sign_in(&browser, "other", "an.nguyen", &[("scope", "openid")]).await;
    assert!(param(&redirect_params(&r), "code").is_some(), "no picker for a client the representation does not cover");
    let r = app.follow(&browser, &app.authorize_url("portal", &[("scope", "openid org"), ("prompt", "none")])).await;
    assert_eq!(param(&redirect_params(&r), "error").as_deref(), Some("account_selection_required"));
    // Interactively, the picker appears and the choice is honoured.
    let r = app.follow(&browser, &app.authorize_url("portal", &[("scope", "openid org")])).await;
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!("value=\"{rep}\"")), "{page}");
    let r = choose(&app, &browser, &page, &rep).await;
    let code = code_of(&r);
    let t: serde_json::Value = app.redeem("portal", &code.code, VERIFIER).await.json().await.unwrap();
    assert_eq!(claims(t["id_token"].as_str().unwrap())["vn_org"]["mandate_scope"], json!(["client:portal"]));
}
