//! The API contract (issue 15): Schemathesis (PyPI; `scripts/test.sh` installs it and names it in
//! `QINGLIU_SCHEMATHESIS`) drives the running server from its own `/api/openapi.json` and fails
//! on any answer the document does not describe (status, content type, headers, body schema),
//! any 5xx, any request the document forbids that the server accepts, and any operation that
//! answers without the login it declares. Fixed seed, so a failure can be replayed.

use std::process::Command;

use crate::{login, setup};

fn schemathesis() -> String {
    std::env::var("QINGLIU_SCHEMATHESIS").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/qingliu/venv-schemathesis/bin/schemathesis")
    })
}

fn run(base: &str, token: &str, only: Option<&str>, exclude: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(schemathesis());
    cmd.arg("run")
        .arg(format!("{base}/api/openapi.json"))
        .args(["--experimental=openapi-3.1", "--checks", "all", "--workers", "2"])
        .args(["--hypothesis-max-examples", "20", "--hypothesis-seed", "20261205", "--no-color"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("NO_COLOR", "1");
    if let Some(p) = only {
        cmd.args(["--include-path-regex", p]);
    }
    if let Some(p) = exclude {
        cmd.args(["--exclude-path-regex", p]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("{} did not start ({e}): scripts/test.sh installs Schemathesis", schemathesis())
    });
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_the_document_says() {
    let (server, _fx) = setup().await;
    let admin = login(&server, "admin").await;
    let token = admin.token.clone().unwrap();
    // Everything but logout, which would end the run's own session.
    let base = server.base.clone();
    let (ok, text) =
        tokio::task::spawn_blocking(move || run(&base, &token, None, Some("/api/v1/auth/logout$")))
            .await
            .unwrap();
    assert!(ok, "the server does not answer as its document says:\n{text}");
    assert!(text.contains("passed"), "{text}");
    // Logout on a session of its own.
    let other = login(&server, "county_1").await;
    let token = other.token.clone().unwrap();
    let base = server.base.clone();
    let (ok, text) =
        tokio::task::spawn_blocking(move || run(&base, &token, Some("/api/v1/auth/logout$"), None))
            .await
            .unwrap();
    assert!(ok, "logout does not answer as the document says:\n{text}");
}
