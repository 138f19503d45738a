//! The audit log records security events in a hash chain, and `dinhdanh audit verify`
//! finds the first record someone edited behind the server's back.

use crate::helpers::*;

#[tokio::test]
async fn security_events_are_chained_and_tampering_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
    let app =
        TestApp::spawn_with(dinhdanh::config::Settings { database_url: Some(db.clone()), ..Default::default() }).await;
    app.confidential("portal").await;
    app.user("an.nguyen").await;
    // A replayed code and a logout are security events.
    let r = app.sign_in(&app.browser(), "portal", "an.nguyen", &[]).await;
    let code = code_of(&r);
    assert_eq!(app.redeem("portal", &code.code, VERIFIER).await.status(), 200);
    assert_eq!(app.redeem("portal", &code.code, VERIFIER).await.status(), 400);
    let store = app.running.state.services.store.clone();
    let events = store.audit_events(0, 100).await.unwrap();
    let replay = events.iter().find(|e| e.event.action == "grant.revoke.code_replayed").expect("replay audited");
    assert_eq!(replay.event.actor, "client:portal");
    for e in &events {
        let text = serde_json::to_string(&e.event).unwrap();
        assert!(!text.contains(&code.code), "no codes in the audit log");
        assert!(!text.contains("001099012345"), "no personal numbers in the audit log");
    }
    assert!(matches!(dinhdanh::audit::verify(store.as_ref()).await.unwrap(), dinhdanh::audit::Verdict::Intact { .. }));
    let bin = env!("CARGO_BIN_EXE_dinhdanh");
    let out = std::process::Command::new(bin).args(["audit", "verify", "--database-url", &db]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Edit a past event directly in the database.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'someone-else' WHERE seq = ?")
        .bind(replay.seq)
        .execute(&pool)
        .await
        .unwrap();
    let verdict = dinhdanh::audit::verify(store.as_ref()).await.unwrap();
    assert_eq!(
        verdict,
        dinhdanh::audit::Verdict::Broken { seq: replay.seq, reason: "its content does not match its hash".into() }
    );
    let out = std::process::Command::new(bin).args(["audit", "verify", "--database-url", &db]).output().unwrap();
    assert!(!out.status.success(), "a broken chain fails the command");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("\"first_broken\": {}", replay.seq)));
}
