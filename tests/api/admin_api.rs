//! The admin REST API (`/admin/api/v1`): RFC 6750 refusals, clients and people CRUD with
//! paging, initial access tokens, the OpenAPI document, and the CLI bootstrap that makes
//! the first credential.

use dinhdanh::config::Settings;
use dinhdanh::flows::admin;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_API as API, PASSWORD, REDIRECT, SECRET, T0, TestApp, admin_call as call, admin_token, client_credentials,
    code_of, json_of,
};

/// A client-credentials token of a service client registered for `registered`, asking
/// for `scope` (all of `registered` when `None`).
async fn service_token(app: &TestApp, id: &str, registered: &str, scope: Option<&str>) -> String {
    app.client(
        json!({"client_id": id, "client_secret": SECRET, "grant_types": ["client_credentials"], "scope": registered}),
    )
    .await;
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let r = app.api().post(app.url("/token")).basic_auth(id, Some(SECRET)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    t["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_api_refuses_callers_without_the_right_token() {
    let app = TestApp::spawn().await;
    let r = call(&app, "GET", "/clients", None, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"dinhdanh\"");
    let r = call(&app, "GET", "/clients", Some("garbage"), None).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("error=\"invalid_token\""));
    let r = app.api().get(app.url(&format!("{API}/clients"))).basic_auth("a", Some("b")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // The people scope does not open the clients.
    let people_only = service_token(&app, "hr", "admin:people", None).await;
    let r = call(&app, "GET", "/clients", Some(&people_only), None).await;
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\"") && challenge.contains("scope=\"admin:clients\""));
    assert_eq!(json_of(r, 403).await["error"], "insufficient_scope");
    assert_eq!(call(&app, "GET", "/people", Some(&people_only), None).await.status(), 200);
    // A token narrowed at the token endpoint carries only what it asked for.
    let narrowed = service_token(&app, "ops", "admin:clients admin:people", Some("admin:people")).await;
    assert_eq!(call(&app, "POST", "/registration-tokens", Some(&narrowed), Some(json!({}))).await.status(), 403);
    // Any other service token: 403.
    let lgsp = service_token(&app, "lgsp", "lgsp:read", None).await;
    assert_eq!(call(&app, "GET", "/people", Some(&lgsp), None).await.status(), 403);
    // A token for another audience: 401.
    app.client(json!({"client_id": "aud", "client_secret": SECRET, "grant_types": ["client_credentials"], "scope": "admin:people"}))
        .await;
    let t: Value = app
        .api()
        .post(app.url("/token"))
        .basic_auth("aud", Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("resource", "urn:lgsp:ho-tich")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(call(&app, "GET", "/people", t["access_token"].as_str(), None).await.status(), 401);

    // A person's token never opens the API, whatever its client is registered for.
    app.user("an.nguyen").await;
    app.client(json!({"client_id": "console", "client_secret": SECRET, "redirect_uris": [REDIRECT],
                      "scope": "openid admin:people"}))
        .await;
    let browser = app.browser();
    let code = code_of(&app.sign_in(&browser, "console", "an.nguyen", &[("scope", "openid admin:people")]).await);
    let t: Value = app.redeem("console", &code.code, crate::helpers::VERIFIER).await.json().await.unwrap();
    assert!(t["scope"].as_str().unwrap().contains("admin:people"), "{t}");
    let r = call(&app, "GET", "/people", t["access_token"].as_str(), None).await;
    assert_eq!(r.status(), 401);

    // Disabling the admin client ends its token at once.
    let token = admin_token(&app).await;
    assert_eq!(call(&app, "GET", "/people", Some(&token), None).await.status(), 200);
    let r = call(&app, "POST", "/clients/hr/disable", Some(&token), None).await;
    assert_eq!(json_of(r, 200).await["status"], "disabled");
    assert_eq!(call(&app, "GET", "/people", Some(&people_only), None).await.status(), 401);
    let _ = PASSWORD;
}

#[tokio::test]
async fn clients_can_be_created_read_listed_replaced_disabled_and_deleted() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let t = Some(token.as_str());
    for id in ["c-1", "c-2", "c-3"] {
        let r = call(
            &app,
            "POST",
            "/clients",
            t,
            Some(json!({"client_id": id, "redirect_uris": [REDIRECT], "client_name": id})),
        )
        .await;
        let created = json_of(r, 201).await;
        assert_eq!(created["client_id"], id);
        assert_eq!(created["status"], "active");
        assert_eq!(created["client_secret"].as_str().unwrap().len(), 43);
    }
    let r = call(&app, "POST", "/clients", t, Some(json!({"client_id": "c-1", "redirect_uris": [REDIRECT]}))).await;
    assert_eq!(json_of(r, 409).await["error"], "conflict");
    for (body, code) in [
        (json!({"redirect_uris": ["javascript:alert(1)"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": "x"}), "invalid_client_metadata"),
        (json!(["x"]), "invalid_client_metadata"),
    ] {
        assert_eq!(
            json_of(call(&app, "POST", "/clients", t, Some(body.clone())).await, 400).await["error"],
            code,
            "{body}"
        );
    }

    // Read: no secret, no digest.
    let r = call(&app, "GET", "/clients/c-2", t, None).await;
    let text = r.text().await.unwrap();
    let c: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((c["client_id"].as_str(), c["client_name"].as_str()), (Some("c-2"), Some("c-2")));
    assert!(c.get("client_secret").is_none() && !text.contains("digest"), "{text}");
    assert_eq!(json_of(call(&app, "GET", "/clients/nobody", t, None).await, 404).await["error"], "not_found");

    // Paging: the admin client and c-1..c-3 in id order, two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/clients?limit=2&cursor={c}"),
            None => "/clients?limit=2".into(),
        };
        let page = json_of(call(&app, "GET", &q, t, None).await, 200).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|i| i["client_id"].as_str().unwrap().to_owned()));
        assert!(items.iter().all(|i| i.get("client_secret").is_none()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["c-1", "c-2", "c-3", "dinhdanh-admin"]);
    for q in [
        "/clients?limit=0",
        "/clients?limit=1000",
        "/clients?limit=x",
        "/clients?cursor=%25%25",
        "/clients?limit=1&limit=2",
    ] {
        assert_eq!(json_of(call(&app, "GET", q, t, None).await, 400).await["error"], "invalid_request", "{q}");
    }

    // Replace: validated, the secret kept unless a new one is given.
    let r =
        call(&app, "PUT", "/clients/c-1", t, Some(json!({"redirect_uris": [REDIRECT], "client_name": "Mới"}))).await;
    let c = json_of(r, 200).await;
    assert_eq!(c["client_name"], "Mới");
    assert!(c.get("client_secret").is_none());
    let r = call(&app, "PUT", "/clients/c-1", t, Some(json!({"redirect_uris": ["http://rp.example.vn/cb"]}))).await;
    assert_eq!(json_of(r, 400).await["error"], "invalid_redirect_uri");
    let r = call(&app, "PUT", "/clients/c-1", t, Some(json!({"client_id": "c-9", "redirect_uris": [REDIRECT]}))).await;
    assert_eq!(r.status(), 400);
    let r = call(&app, "PUT", "/clients/nobody", t, Some(json!({"redirect_uris": [REDIRECT]}))).await;
    assert_eq!(r.status(), 404);
    let r =
        call(&app, "PUT", "/clients/c-1", t, Some(json!({"redirect_uris": [REDIRECT], "client_secret": SECRET}))).await;
    assert_eq!(json_of(r, 200).await["client_secret"], SECRET);

    // Disable: the client cannot authenticate; enable: it can again.
    let introspect =
        || app.api().post(app.url("/introspect")).basic_auth("c-1", Some(SECRET)).form(&[("token", "x")]).send();
    assert_eq!(introspect().await.unwrap().status(), 200);
    assert_eq!(json_of(call(&app, "POST", "/clients/c-1/disable", t, None).await, 200).await["status"], "disabled");
    assert_eq!(introspect().await.unwrap().status(), 401);
    assert_eq!(json_of(call(&app, "GET", "/clients/c-1", t, None).await, 200).await["status"], "disabled");
    assert_eq!(json_of(call(&app, "POST", "/clients/c-1/enable", t, None).await, 200).await["status"], "active");
    assert_eq!(introspect().await.unwrap().status(), 200);
    assert_eq!(call(&app, "POST", "/clients/nobody/disable", t, None).await.status(), 404);

    // Delete.
    assert_eq!(call(&app, "DELETE", "/clients/c-1", t, None).await.status(), 204);
    assert_eq!(call(&app, "DELETE", "/clients/c-1", t, None).await.status(), 404);
    assert_eq!(call(&app, "GET", "/clients/c-1", t, None).await.status(), 404);
    assert_eq!(introspect().await.unwrap().status(), 401);

    // Every change has its audit line, by the admin client; never a secret.
    let events = app.running.state.services.store.audit_events(0, 1_000).await.unwrap();
    let actions: Vec<&str> =
        events.iter().filter(|r| r.event.actor == "admin:dinhdanh-admin").map(|r| r.event.action.as_str()).collect();
    for expected in [
        "client.register",
        "client.register.failed",
        "client.update",
        "client.update.failed",
        "client.disable",
        "client.enable",
        "client.delete",
        "client.delete.failed",
    ] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let conflict = events.iter().find(|r| r.event.action == "client.register.failed").unwrap();
    assert_eq!(conflict.event.detail["error"], "conflict");
    let text = format!("{events:?}");
    assert!(!text.contains(SECRET), "a secret reached the audit log");
}

#[tokio::test]
async fn people_can_be_managed_and_lists_mask_personal_numbers() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let t = Some(token.as_str());
    let r = call(
        &app,
        "POST",
        "/people",
        t,
        Some(
            json!({"username": "Binh.Tran", "password": PASSWORD, "name": "Trần Thị Bình", "email": "binh@example.vn",
                    "email_verified": true, "personal_number": "079199000001"}),
        ),
    )
    .await;
    let text = r.text().await.unwrap();
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["username"], "binh.tran");
    assert_eq!(p["personal_number"], "079199000001", "one person read whole");
    assert!(!text.contains("password") && !text.contains("argon2"), "{text}");
    let id = p["id"].as_str().unwrap().to_owned();
    for (name, pin) in [("an.le", None), ("cuong.pham", Some("001099000002"))] {
        let mut body = json!({"username": name, "password": PASSWORD});
        if let Some(pin) = pin {
            body["personal_number"] = pin.into();
        }
        json_of(call(&app, "POST", "/people", t, Some(body)).await, 201).await;
    }
    for (body, status) in [
        (json!({"username": "binh.tran", "password": PASSWORD}), 409),
        (json!({"username": "x y", "password": PASSWORD}), 400),
        (json!({"username": "short.pw", "password": "1234"}), 400),
        (json!({"username": "bad.pin", "password": PASSWORD, "personal_number": "12345"}), 400),
        (json!({"username": "extra", "password": PASSWORD, "password_hash": "$argon2id$…"}), 400),
        (json!({"username": "no.password"}), 400),
    ] {
        assert_eq!(call(&app, "POST", "/people", t, Some(body.clone())).await.status(), status, "{body}");
    }

    // Lists: creation order, paged, personal numbers masked, nothing secret.
    let page = call(&app, "GET", "/people?limit=2", t, None).await;
    let text = page.text().await.unwrap();
    assert!(!text.contains("079199000001") && !text.contains("password"), "{text}");
    let page: Value = serde_json::from_str(&text).unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["username"], "binh.tran");
    assert_eq!(items[0]["personal_number"], "079******001");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json_of(call(&app, "GET", &format!("/people?limit=2&cursor={cursor}"), t, None).await, 200).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["items"][0]["username"], "cuong.pham");
    assert!(rest["next_cursor"].is_null());

    // Update: present members change, null clears, absent stay.
    let path = format!("/people/{id}");
    let r =
        call(&app, "PATCH", &path, t, Some(json!({"name": "Trần Bình", "email": null, "phone": "+84912345678"}))).await;
    let p = json_of(r, 200).await;
    assert_eq!(
        (p["name"].as_str(), p["email"].as_str(), p["email_verified"].as_bool()),
        (Some("Trần Bình"), None, Some(false))
    );
    assert_eq!(p["personal_number"], "079199000001");
    assert_eq!(call(&app, "PATCH", &path, t, Some(json!({"username": "an.le"}))).await.status(), 409);
    assert_eq!(call(&app, "PATCH", &path, t, Some(json!({"status": "disabled"}))).await.status(), 400);
    assert_eq!(call(&app, "PATCH", &path, t, Some(json!({"password": "short"}))).await.status(), 400);
    assert_eq!(call(&app, "PATCH", "/people/nobody", t, Some(json!({"name": "x"}))).await.status(), 404);
    json_of(call(&app, "PATCH", &path, t, Some(json!({"password": "một-mật-khẩu-mới"}))).await, 200).await;

    // A new password works at the login page; disabling stops sign-in.
    app.client(json!({"client_id": "portal", "client_secret": SECRET, "redirect_uris": [REDIRECT]})).await;
    let browser = app.browser();
    let page = app.follow(&browser, &app.authorize_url("portal", &[])).await.text().await.unwrap();
    let r = app.login(&browser, &page, "binh.tran", "một-mật-khẩu-mới").await;
    assert!(r.status().is_redirection() || r.text().await.unwrap().contains("decision"), "the new password signs in");
    assert_eq!(json_of(call(&app, "POST", &format!("{path}/disable"), t, None).await, 200).await["status"], "disabled");
    let browser = app.browser();
    let page = app.follow(&browser, &app.authorize_url("portal", &[])).await.text().await.unwrap();
    let r = app.login(&browser, &page, "binh.tran", "một-mật-khẩu-mới").await;
    assert!(r.text().await.unwrap().contains("name=\"password\""), "a disabled person is back at the login form");
    assert_eq!(json_of(call(&app, "POST", &format!("{path}/enable"), t, None).await, 200).await["status"], "active");

    // Delete.
    assert_eq!(call(&app, "DELETE", &path, t, None).await.status(), 204);
    assert_eq!(call(&app, "GET", &path, t, None).await.status(), 404);
    assert_eq!(call(&app, "DELETE", &path, t, None).await.status(), 404);
}

#[tokio::test]
async fn initial_access_tokens_can_be_minted_through_the_api() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let r = call(
        &app,
        "POST",
        "/registration-tokens",
        Some(&token),
        Some(json!({"policy": {"redirect_uri_hosts": ["rp.example.vn"]}, "max_uses": 1, "expires_in": 600})),
    )
    .await;
    let minted = json_of(r, 201).await;
    assert_eq!(minted["expires_at"], T0 + 600);
    let iat = minted["token"].as_str().unwrap();
    let r = app
        .api()
        .post(app.url("/register"))
        .bearer_auth(iat)
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for body in [
        json!({"policy": {"redirect_uri_hosts": ["*"]}}),
        json!({"policy": {"scope": "openid admin:clients"}}),
        json!({"expires_in": 0}),
        json!({"max_uses": 0}),
        json!({"policies": {}}),
    ] {
        assert_eq!(
            call(&app, "POST", "/registration-tokens", Some(&token), Some(body.clone())).await.status(),
            400,
            "{body}"
        );
    }
    // No body: the default policy.
    let r = app.api().post(app.url(&format!("{API}/registration-tokens"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(json_of(r, 201).await["policy"]["grant_types"], json!(["authorization_code", "refresh_token"]));
}

#[tokio::test]
async fn the_openapi_document_parses_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let r = app.api().get(app.url(&format!("{API}/openapi.json"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], format!("{}{API}", app.issuer));
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/clients",
            "/clients/{id}",
            "/clients/{id}/disable",
            "/clients/{id}/enable",
            "/officers/{id}",
            "/orgs",
            "/orgs/{id}",
            "/orgs/{id}/representations",
            "/people",
            "/people/{id}",
            "/people/{id}/disable",
            "/people/{id}/enable",
            "/registration-tokens",
            "/representations/{id}/revoke",
            "/verification/cases",
            "/verification/cases/{id}",
            "/verification/cases/{id}/decisions",
            "/verification/cases/{id}/evidence",
            "/verification/cases/{id}/withdraw",
        ]
    );
    // Every documented operation exists (401 without a token, not 404/405), and every
    // schema it names is defined.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name: String = r.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(schemas.contains_key(&name), "{name} is referenced but not defined");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["operationId"].is_string() && op["responses"]["401"].is_object(), "{method} {path}");
            let r = call(&app, &method.to_uppercase(), &path.replace("{id}", "x"), None, None).await;
            assert_eq!(r.status(), 401, "{method} {path}");
        }
    }
    assert_eq!(operations, 29);
}

#[tokio::test]
async fn the_cli_bootstraps_the_first_admin_credential() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(args)
            .current_dir(dir.path())
            .env("DINHDANH_DATABASE_URL", &db)
            .output()
            .unwrap()
    };
    let out = cli(&["admin", "bootstrap", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["client_id"], admin::BOOTSTRAP_CLIENT_ID);
    let secret = made["client_secret"].as_str().unwrap().to_owned();
    assert!(made["usage"].as_str().unwrap().contains("grant_type=client_credentials"));
    let again: Value = serde_json::from_slice(&cli(&["admin", "bootstrap", "--json"]).stdout).unwrap();
    assert_eq!((again["exists"].as_bool(), again["client_secret"].is_null()), (Some(true), true));

    // The CLI's other operations are the API's.
    let out = cli(&["client", "list"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["items"][0]["client_id"], admin::BOOTSTRAP_CLIENT_ID);
    assert!(listed["items"][0].get("client_secret").is_none());

    let app = TestApp::spawn_with(Settings { database_url: Some(db.clone()), ..Default::default() }).await;
    let t = client_credentials(&app, admin::BOOTSTRAP_CLIENT_ID, &secret).await;
    let token = t["access_token"].as_str().unwrap();
    let r = call(&app, "POST", "/people", Some(token), Some(json!({"username": "can.bo", "password": PASSWORD}))).await;
    let id = json_of(r, 201).await["id"].as_str().unwrap().to_owned();
    let out = cli(&["user", "show", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["username"], "can.bo");
    let out = cli(&["user", "disable", &id]);
    assert!(out.status.success());
    let r = call(&app, "GET", &format!("/people/{id}"), Some(token), None).await;
    assert_eq!(json_of(r, 200).await["status"], "disabled");
    let out = cli(&["client", "show", "nobody"]);
    assert!(!out.status.success());
}
