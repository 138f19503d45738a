//! The account area's own sign-in: `/account/signin` runs the ordinary code flow for
//! the built-in client `dinhdanh-account` and comes back to the page it was asked from
//! (the level-2 variant through the national e-ID is in `mandates.rs`).

use crate::helpers::*;

fn query_of(app: &TestApp, to: &str) -> Vec<(String, String)> {
    url::Url::parse(&app.url(to)).unwrap().query_pairs().into_owned().collect()
}

#[tokio::test]
async fn account_pages_sign_in_through_the_provider_and_come_back() {
    let app = TestApp::spawn().await;
    app.user("an.nguyen").await;
    let b = app.browser();
    let r = b.get(app.url("/account/consents")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r).as_deref()), (303, Some("/account/signin?next=consents")));

    // The sign-in goes to our own authorization endpoint, with PKCE, as the account client.
    let r = b.get(app.url("/account/signin?next=consents")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r).unwrap();
    assert!(to.starts_with("/authorize?"), "{to}");
    let q = query_of(&app, &to);
    assert_eq!(param(&q, "client_id").as_deref(), Some("dinhdanh-account"));
    assert_eq!(param(&q, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&q, "redirect_uri"), Some(app.url("/account/callback")));
    let state = param(&q, "state").unwrap();
    let login = app.follow(&b, &app.url(&to)).await;
    let page = login.text().await.unwrap();
    assert!(page.contains("name=\"password\""), "the ordinary login page: {page}");
    let r = app.login(&b, &page, "an.nguyen", PASSWORD).await;
    let back = location(&r).unwrap_or_else(|| panic!("no redirect: {}", r.status()));
    assert!(back.starts_with(&app.url("/account/callback?")), "no consent page for the account area: {back}");
    let r = app.follow(&b, &back).await;
    assert_eq!((r.status().as_u16(), r.url().path()), (200, "/account/consents"));
    let page = r.text().await.unwrap();
    assert!(page.contains("href=\"/end_session\""), "signed in: {page}");
    assert!(!page.contains("dinhdanh-account"), "the account area leaves no consent receipt");

    // The way back is single use, and bound to the browser that started it.
    let r = b.get(app.url(&format!("/account/callback?state={state}&code=x"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let other = app.browser();
    let r = other.get(app.url("/account/signin?next=mandates")).send().await.unwrap();
    let foreign = param(&query_of(&app, &location(&r).unwrap()), "state").unwrap();
    let r = b.get(app.url(&format!("/account/callback?state={foreign}&code=x"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(location(&r).is_none());

    // A sign-in that ended in an error (here: the level asked for was not reached) is a
    // page that says so, never a redirect.
    for (error, text) in [("unmet_authentication_requirements", "mức độ 2"), ("access_denied", "Chưa đăng nhập được")]
    {
        let r = b.get(app.url("/account/signin?next=mandates&level=2")).send().await.unwrap();
        let to = location(&r).unwrap();
        let q = query_of(&app, &to);
        assert!(param(&q, "claims").is_some_and(|c| c.contains("urn:vn:eid:loa:2")), "{to}");
        let state = param(&q, "state").unwrap();
        let r = b.get(app.url(&format!("/account/callback?state={state}&error={error}"))).send().await.unwrap();
        assert_eq!(r.status(), 403, "{error}");
        assert!(location(&r).is_none());
        let page = r.text().await.unwrap();
        assert!(page.contains(text), "{error}: {page}");
    }

    // Only the account pages are destinations: no open redirect.
    for bad in [
        "/account/signin?next=https%3A%2F%2Fevil.example",
        "/account/signin",
        "/account/signin?next=consents&next=mandates",
    ] {
        let r = b.get(app.url(bad)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert!(location(&r).is_none(), "{bad}");
    }

    // The client was registered once, as administrators see it.
    let store = app.running.state.services.store.as_ref();
    let clients = store.list_clients(None, 100).await.unwrap();
    assert_eq!(clients.iter().filter(|c| c.client.client_id == "dinhdanh-account").count(), 1);

    // Moved to another issuer (here: its stored callback changed behind its back), the
    // next sign-in points the client at this issuer's callback again.
    let mut stale = store.find_client("dinhdanh-account").await.unwrap().unwrap().client;
    stale.redirect_uris = vec!["https://old-issuer.example.vn/account/callback".into()];
    assert!(store.update_client(&stale, None, 1).await.unwrap());
    let r = b.get(app.url("/account/signin?next=security")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let fixed = store.find_client("dinhdanh-account").await.unwrap().unwrap().client;
    assert_eq!(fixed.redirect_uris, vec![app.url("/account/callback")]);
    let page = app.follow(&b, &app.url(&location(&r).unwrap())).await;
    assert_eq!(page.status(), 200, "the authorization request is accepted again");
}
