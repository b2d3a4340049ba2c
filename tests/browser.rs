//! The dashboard in a real browser: starts `serve --demo` (90 days of generated activity) and
//! `serve` on an empty database, then runs the Playwright tests in `tests/browser/` with
//! node's test runner against Debian's Chromium. Each of those tests checks one behaviour a
//! user sees against the API's own numbers; see `tests/browser/lib.mjs`.
//!
//! Full-page screenshots of every view, light and dark, land in
//! `<target>/tmp/browser-screenshots/` (printed at the end).
//!
//! Needs `/usr/bin/chromium`, Node.js 20+ and `npm ci` in tests/browser: `.ci/install.d/browser.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ADMIN_KEY, KEY, Server};

const INSTALL: &str = "run `bash .ci/install.d/browser.sh` (as root on Debian) to install Chromium, Node.js and the test packages";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails with the way to fix it, rather than skipping: a skipped browser test proves nothing.
fn check_tools(tests: &Path) {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: {INSTALL}"
    );
    let node = match Command::new("node").arg("--version").output() {
        Ok(output) if output.status.success() => output,
        _ => panic!("node is missing: {INSTALL}"),
    };
    let version = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "node {version} is too old (playwright-core needs 20+): {INSTALL}"
    );
    assert!(
        tests.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules is missing: {INSTALL}"
    );
}

#[test]
fn dashboard_in_chromium() {
    let tests = repo().join("tests/browser");
    check_tools(&tests);

    let dir = tempfile::tempdir().unwrap();
    let demo = Server::start(&dir.path().join("db.duckdb"), &["--demo", "--no-receivers"]);
    let empty = Server::start(
        &dir.path().join("empty.duckdb"),
        &["--no-receivers", "--dashboard-share-key"],
    );
    // The same demo data behind a login: the dashboard gets no key until the viewer key is typed.
    let login = Server::start(
        &dir.path().join("login.duckdb"),
        &["--demo", "--dashboard-login", "--no-receivers"],
    );
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&artifacts).unwrap();

    let output = Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .arg(tests)
        .current_dir(repo())
        .env("MIRRORD_USAGE_URL", demo.url(""))
        .env("MIRRORD_USAGE_KEY", KEY)
        .env("MIRRORD_USAGE_ADMIN_KEY", ADMIN_KEY)
        .env("MIRRORD_USAGE_LOGIN_URL", login.url(""))
        .env("MIRRORD_USAGE_EMPTY_URL", empty.url(""))
        .env("MIRRORD_USAGE_ARTIFACTS", &artifacts)
        .output()
        .expect("run node --test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    println!("screenshots: {}", artifacts.display());
    if !output.status.success() {
        panic!(
            "browser tests failed ({})\n--- demo server output ---\n{}\n--- empty server output ---\n{}",
            output.status,
            demo.output.lock().unwrap().join("\n"),
            empty.output.lock().unwrap().join("\n"),
        );
    }
    demo.stop();
    empty.stop();
    login.stop();
}
