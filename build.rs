//! Builds the browser dashboard (`web/` -> `web/dist/`, which `src/api/ui.rs` embeds) with npm
//! when its sources changed. Without Node.js, the build stops and says how to get it, or how to
//! build without the dashboard (`MIRRORD_USAGE_SKIP_UI=1` embeds a one-line placeholder page).
use std::path::Path;
use std::process::Command;

const INPUTS: &[&str] = &[
    "web/src",
    "web/styles",
    "web/static",
    "web/build.mjs",
    "web/package.json",
    "web/package-lock.json",
    "web/tsconfig.json",
];

fn main() {
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    println!("cargo:rerun-if-env-changed=MIRRORD_USAGE_SKIP_UI");
    let web = Path::new("web");
    if std::env::var_os("MIRRORD_USAGE_SKIP_UI").is_some_and(|v| v != "0") {
        placeholder(web);
        return;
    }
    if !runs("node", &["--version"]) || !runs("npm", &["--version"]) {
        fail(
            "building the dashboard needs Node.js 20+ and npm, and they are not on PATH.\n  \
              Install them (Debian: `bash .ci/install.d/browser.sh`, elsewhere https://nodejs.org),\n  \
              or build without the dashboard: MIRRORD_USAGE_SKIP_UI=1 cargo build --release",
        );
    }
    // `npm ci` only when node_modules is missing or older than the lockfile.
    let fresh = modified(&web.join("node_modules/.package-lock.json"))
        .zip(modified(&web.join("package-lock.json")))
        .is_some_and(|(installed, lock)| installed >= lock);
    if !fresh {
        npm(web, &["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    }
    npm(web, &["run", "build"]);
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn npm(web: &Path, args: &[&str]) {
    match Command::new("npm").args(args).current_dir(web).status() {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "`npm {}` in web/ failed ({s}); its output is above",
            args.join(" ")
        )),
        Err(e) => fail(&format!(
            "could not run `npm {}` in web/: {e}",
            args.join(" ")
        )),
    }
}

fn placeholder(web: &Path) {
    let dist = web.join("dist");
    if dist.join("app.js").exists() {
        return;
    }
    std::fs::create_dir_all(&dist).expect("create web/dist");
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><meta charset=utf-8><title>mirrord usage</title>\
        <p>This mirrord-usage was built without its dashboard (MIRRORD_USAGE_SKIP_UI). \
        The reports API is at <code>/api/v1/reports/usage</code>.</p>\n",
    )
    .expect("write web/dist/index.html");
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
