//! `/account/mandates` end to end: a person who represents a business grants and revokes
//! an `authorised_person` mandate from their own page. The level-2 session is real: it
//! comes through the broker from an upstream dinhdanh process whose citizen an operator
//! raised to assurance level 2 (the infrastructure of `broker.rs`).

use dinhdanh::clock::Clock;
use dinhdanh::flows::admin::{NewPerson, create_person};
use dinhdanh::flows::orgs::{NewOrganisation, NewRepresentation, add_representation, create_org};
use dinhdanh::identity::{AssuranceLevel, OrgId, PersonalNumber, RepresentationSource, RepresentationStatus, Role};
use dinhdanh::protocol::verified_claims::iso8601;

use crate::broker::{End, drive, pair, set_upstream_person};
use crate::helpers::*;

const GRANTEE_PIN: &str = "001099012345";
const UNKNOWN_PIN: &str = "001099000777";
const HOUSEHOLD_PIN: &str = "001099000999";

fn date(unix: i64) -> String {
    iso8601(unix).chars().take(10).collect()
}

async fn get(browser: &reqwest::Client, app: &TestApp) -> (u16, String) {
    let r = browser.get(app.url("/account/mandates")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn mandates_page_needs_a_session() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    // Reading the page without a session goes to the sign-in, which comes back here.
    let r = browser.get(app.url("/account/mandates")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r).as_deref()), (303, Some("/account/signin?next=mandates")));
    let r = browser.get(app.url("/account/mandates?lang=en")).send().await.unwrap();
    assert_eq!(location(&r).as_deref(), Some("/account/signin?next=mandates&lang=en"));
    // A form posted without one changes nothing and goes to the same sign-in.
    let form = [("csrf", "x".to_owned()), ("action", "revoke".to_owned()), ("mandate", "m".to_owned())];
    let r = browser_post(&browser, &app, &form).await;
    assert_eq!((r.status().as_u16(), location(&r).as_deref()), (303, Some("/account/signin?next=mandates")));
}

#[tokio::test]
async fn mandates_granted_and_revoked_at_level_two_only() {
    let (app, up) = pair().await;
    let svc = &app.running.state.services;
    let store = svc.store.as_ref();
    let now = app.clock.now();

    // A level-1 sign-in through the national e-ID creates the granter.
    let weak = app.browser();
    let j = drive(&app, &weak, &app.authorize_url("rp", &[]), false).await;
    assert!(matches!(j.end, End::Client(_)), "{:?}", j.end);
    let granter = store.list_people(None, 10).await.unwrap().remove(0).id;

    // The granter is the legal representative of a business until a month from now; the
    // grantee is known here with their personal number.
    let org = create_org(
        store,
        "cli",
        NewOrganisation {
            tax_code: Some("0100109106".into()),
            name: "Công ty TNHH Sao Mai".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    add_representation(
        store,
        "cli",
        &org.id.0,
        NewRepresentation {
            person_id: Some(granter.0.clone()),
            role: "legal_representative".into(),
            valid_until: Some(now + 30 * 86_400),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    // A household business whose tax code is a personal number: shown masked.
    let household = create_org(
        store,
        "cli",
        NewOrganisation {
            tax_code: Some(HOUSEHOLD_PIN.into()),
            name: "Hộ kinh doanh Dung".into(),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let rep = NewRepresentation { person_id: Some(granter.0.clone()), role: "head".into(), ..Default::default() };
    add_representation(store, "cli", &household.id.0, rep, now).await.unwrap();
    let grantee = create_person(
        store,
        &svc.hasher,
        NewPerson {
            username: "ke.toan".into(),
            password: PASSWORD.into(),
            name: Some("Lê Văn Kế".into()),
            email: None,
            email_verified: false,
            phone: None,
            personal_number: Some(GRANTEE_PIN.into()),
            address: None,
        },
        now,
    )
    .await
    .unwrap()
    .id;
    let org_reps = |org: OrgId| async move { store.representations_of_org(&org).await.unwrap() };

    // Level 1: the page lists the representation, explains level 2, and refuses a grant.
    let (status, page) = get(&weak, &app).await;
    assert_eq!(status, 200);
    assert!(page.contains("Công ty TNHH Sao Mai") && page.contains("0100109106"), "{page}");
    assert!(page.contains("Người đại diện theo pháp luật"), "{page}");
    let masked = PersonalNumber::parse(HOUSEHOLD_PIN, 2026).unwrap().masked();
    assert!(page.contains("Hộ kinh doanh Dung") && page.contains(&masked), "{page}");
    assert!(!page.contains(HOUSEHOLD_PIN), "a personal-number tax code is masked");
    assert!(page.contains("mức độ 2") && page.contains("urn:vn:eid:loa:1"), "{page}");
    assert!(page.contains("<fieldset disabled>"), "the forms are disabled at level 1: {page}");
    let weak_csrf = hidden(&page, "csrf");
    let until = date(now + 10 * 86_400);
    let good = |csrf: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("action", "grant".to_owned()),
            ("org", org.id.0.clone()),
            ("personal_number", GRANTEE_PIN.to_owned()),
            ("scope", "1.000466\nclient:rp".to_owned()),
            ("valid_until", until.clone()),
        ]
    };
    let as_refs = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let r = browser_post(&weak, &app, &as_refs(&good(&weak_csrf))).await;
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(text.contains("mức độ 2"), "{text}");
    assert_eq!(org_reps(org.id.clone()).await.len(), 1, "nothing written");

    // The upstream raises the citizen to level 2; the page's own link signs in asking for
    // level 2 (through the national e-ID) and comes back to the page.
    assert!(page.contains("href=\"/account/signin?next=mandates&amp;level=2\""), "{page}");
    set_upstream_person(&up.db_url, AssuranceLevel::Level2, Some("Phạm Thị Dung")).await;
    let strong = app.browser();
    let j = drive(&app, &strong, &app.url("/account/signin?next=mandates&level=2"), false).await;
    assert!(j.visited.iter().any(|u| u.contains("/account/callback?")), "{:?}", j.visited);
    assert!(matches!(&j.end, End::Page(200, p) if p.contains("value=\"grant\"")), "{:?}", j.end);
    assert_eq!(store.list_people(None, 10).await.unwrap().len(), 2, "the same granter, plus the grantee");
    let (status, page) = get(&strong, &app).await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"grant\""), "{page}");
    assert!(!page.contains("level-two-needed"), "{page}");
    let csrf = hidden(&page, "csrf");

    // Bad input: a clear message, nothing written.
    let with = |name: &str, value: &str| {
        let mut f = good(&csrf);
        f.iter_mut().filter(|(k, _)| *k == name).for_each(|(_, v)| *v = value.to_owned());
        f
    };
    let beyond = date(now + 60 * 86_400);
    for (form, status, message) in [
        (with("personal_number", UNKNOWN_PIN), 400, "Chưa có ai với số định danh cá nhân này"),
        (with("personal_number", "12345"), 400, "cần đúng 12 chữ số"),
        (with("valid_until", ""), 400, "ủy quyền phải có thời hạn"),
        (with("valid_until", "ngày mai"), 400, "Ngày hết hạn không hợp lệ"),
        (with("valid_until", &beyond), 400, "vượt quá thời hạn đại diện"),
        (with("scope", " \n "), 400, "phạm vi ủy quyền không được để trống"),
        (with("csrf", "forged"), 403, ""),
    ] {
        let r = browser_post(&strong, &app, &as_refs(&form)).await;
        assert_eq!(r.status().as_u16(), status, "{form:?}");
        let text = r.text().await.unwrap();
        assert!(text.contains(message), "{form:?}: {text}");
        assert_eq!(org_reps(org.id.clone()).await.len(), 1, "nothing written for {form:?}");
    }
    let en = strong
        .post(app.url("/account/mandates?lang=en"))
        .form(&as_refs(&with("personal_number", UNKNOWN_PIN)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(en.contains("Nobody with this personal number is known here yet"), "{en}");

    // A good grant.
    let r = browser_post(&strong, &app, &as_refs(&good(&csrf))).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r).as_deref(), Some("/account/mandates?done=1"));
    let held = store.representations_of_person(&grantee, now + 60).await.unwrap();
    assert_eq!(held.len(), 1);
    let (mandate, held_org) = &held[0];
    assert_eq!(held_org.id, org.id);
    assert_eq!((mandate.role, mandate.source), (Role::AuthorisedPerson, RepresentationSource::Mandate));
    assert_eq!(mandate.scope, vec!["procedure:1.000466".to_owned(), "client:rp".to_owned()]);
    assert_eq!(mandate.granted_by, Some(granter.clone()));
    assert_eq!(mandate.valid_until.map(date), Some(date(now + 11 * 86_400)), "until the end of the chosen day");
    let (_, page) = get(&strong, &app).await;
    assert!(page.contains("Lê Văn Kế") && page.contains(&format!("mandate-{}", mandate.id.0)), "{page}");
    assert!(!page.contains(GRANTEE_PIN), "the grantee's personal number is masked");
    assert!(page.contains("value=\"revoke\""), "{page}");

    // The level-1 session cannot revoke it.
    let revoke = |csrf: &str| {
        vec![("csrf", csrf.to_owned()), ("action", "revoke".to_owned()), ("mandate", mandate.id.0.clone())]
    };
    let r = browser_post(&weak, &app, &as_refs(&revoke(&weak_csrf))).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("mức độ 2"));
    assert_eq!(store.find_representation(&mandate.id).await.unwrap().unwrap().status, RepresentationStatus::Active);

    // The level-2 session can.
    let r = browser_post(&strong, &app, &as_refs(&revoke(&csrf))).await;
    assert_eq!(r.status(), 303);
    assert_eq!(store.find_representation(&mandate.id).await.unwrap().unwrap().status, RepresentationStatus::Revoked);
    assert!(store.representations_of_person(&grantee, now + 60).await.unwrap().is_empty());
    let (_, page) = get(&strong, &app).await;
    assert!(page.contains("Đã thu hồi") && !page.contains("value=\"revoke\""), "{page}");
    // Revoking again is refused clearly.
    let r = browser_post(&strong, &app, &as_refs(&revoke(&csrf))).await;
    assert_eq!(r.status(), 403);

    // Everything is audited, refusals included, without personal numbers.
    let events = store.audit_events(0, 500).await.unwrap();
    let count = |action: &str, outcome: &str| {
        events.iter().filter(|e| e.event.action == action && e.event.outcome == outcome).count()
    };
    assert_eq!(count("mandate.grant", "success"), 1);
    assert_eq!(count("mandate.revoke", "success"), 1);
    assert_eq!(count("mandate.grant.failed", "failure"), 9, "weak, six bad forms, csrf, English");
    assert_eq!(count("mandate.revoke.failed", "failure"), 2, "weak, already revoked");
    let all =
        serde_json::to_string(&events.iter().map(|e| (&e.event.detail, &e.event.subject)).collect::<Vec<_>>()).unwrap();
    assert!(!all.contains(GRANTEE_PIN) && !all.contains(UNKNOWN_PIN), "no personal numbers in the audit log");

    // The weak browser steps up in place through the same link (the upstream asks its
    // level-1 session to sign in again for level 2).
    let j = drive(&app, &weak, &app.url("/account/signin?next=mandates&level=2"), false).await;
    assert!(
        matches!(&j.end, End::Page(200, p) if p.contains("value=\"grant\"") && !p.contains("level-two-needed")),
        "{:?}",
        j.end
    );
}

async fn browser_post(browser: &reqwest::Client, app: &TestApp, form: &[(&str, String)]) -> reqwest::Response {
    browser.post(app.url("/account/mandates")).form(form).send().await.unwrap()
}
