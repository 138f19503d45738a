//! Architecture rules checked as tests: layering, module docs, no secrets committed.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn pure_layers_import_no_io_crates() {
    for layer in ["protocol", "identity"] {
        for f in rust_files(&root().join("src").join(layer)) {
            let text = std::fs::read_to_string(&f).unwrap();
            for banned in [
                "axum",
                "sqlx",
                "redis",
                "tokio",
                "reqwest",
                "crate::store",
                "crate::ephemeral",
                "crate::http",
                "crate::flows",
            ] {
                let code: String =
                    text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
                assert!(
                    !code.contains(&format!("{banned}::")) && !code.contains(&format!("use {banned}")),
                    "{} uses {banned}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn sql_lives_only_in_store_and_keys_only_in_crypto() {
    for f in rust_files(&root().join("src")) {
        let rel = f.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&f).unwrap();
        if !rel.starts_with("src/store/") {
            assert!(!text.contains("sqlx::"), "{rel} knows SQL");
        }
        if !rel.starts_with("src/crypto/") {
            for banned in ["ring", "argon2", "rsa"] {
                let uses = text
                    .match_indices(&format!("{banned}::"))
                    .any(|(i, _)| i == 0 || !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                assert!(!uses, "{rel} touches key material via {banned}");
            }
        }
        if !rel.starts_with("src/http/") && rel != "src/app.rs" {
            assert!(!text.contains("axum::"), "{rel} knows HTTP");
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    for dir in ["src", "tests", "conformance/src"] {
        for f in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&f).unwrap();
            assert!(text.starts_with("//!"), "{} must open with a //! comment", f.display());
        }
    }
}

#[test]
fn the_clock_is_read_only_in_clock_rs() {
    for f in rust_files(&root().join("src")) {
        if f.ends_with("clock.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for banned in ["SystemTime::now", "Instant::now", "Utc::now"] {
            assert!(!text.contains(banned), "{} reads the clock", f.display());
        }
    }
}

#[test]
fn no_keys_or_databases_are_tracked() {
    let out = std::process::Command::new("git").args(["ls-files"]).current_dir(root()).output();
    let Ok(out) = out else { return };
    if !out.status.success() {
        return; // not a git checkout (e.g. a packaged source tree)
    }
    for f in String::from_utf8_lossy(&out.stdout).lines() {
        let lower = f.to_lowercase();
        let bad = [".pem", ".key", ".der", ".sqlite", ".db", ".jwk"].iter().any(|e| lower.ends_with(e));
        assert!(!bad, "{f} must not be committed");
    }
}
