//! The HTML report in a real browser: Debian's headless Chromium loads the
//! page from a file:// URL, runs its script, and we read the DOM it built and
//! the screenshot it took. Without /usr/bin/chromium the browser trials are
//! reported ignored with the reason, or fail with `NETPOL_REQUIRE_ENV=1`
//! (CI installs it).
//!
//! `NETPOL_UPDATE_DOCS=1 cargo test -p netpol-harness --test report_html`
//! also writes the screenshot the README shows (docs/report.png).

#[macro_use]
#[path = "common/env.rs"]
mod env;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use env::{CHROMIUM, Needs};

/// A cold Chromium on a loaded 2-core machine takes a few seconds; this is far more.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);
const WINDOW: (u32, u32) = (1400, 2000);
const DOCS_SCREENSHOT: &str = "docs/report.png";
/// The docs show the netns runs, filtered to ipBlock, one case open.
const DOCS_QUERY: &str = "?tag=ip-block&open=ipblock-ingress-except-one-pod";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh folder for one test (tests run in parallel).
fn temp(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netpol-html-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Every committed results file, as `netpol report results/*.json` gets them.
fn all_results() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("results"))
        .expect("results/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| format!("results/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    files
}

/// `netpol report FILES --html DIR/report.html`, its path.
fn report(files: &[String], dir: &Path) -> PathBuf {
    let out = dir.join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .current_dir(root())
        .arg("report")
        .args(files)
        .arg("--html")
        .arg(&out)
        .output()
        .expect("netpol runs");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    out
}

/// Runs headless Chromium on `url` with `args`; its stdout goes to `dir/stdout`.
fn chromium(dir: &Path, url: &str, args: &[String]) -> String {
    let profile = dir.join(format!("profile-{}", args.len()));
    let stdout_path = dir.join("stdout");
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        // A file, not a pipe: the DOM is megabytes and nobody reads a pipe meanwhile.
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "chromium failed on {url}: {status}");
    std::fs::read_to_string(stdout_path).expect("chromium's output")
}

fn url(page: &Path, query: &str) -> String {
    format!(
        "file://{}{query}",
        page.canonicalize().expect("page").display()
    )
}

/// Takes a screenshot of `page` and checks it is a PNG of the window's size.
fn screenshot(dir: &Path, page: &Path, query: &str) -> PathBuf {
    let png = dir.join("screenshot.png");
    chromium(
        dir,
        &url(page, query),
        &[
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--screenshot={}", png.display()),
        ],
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!((size(16), size(20)), WINDOW, "the PNG's width and height");
    png
}

fn the_page_fetches_nothing_and_carries_everything_inline() {
    let dir = temp("inline");
    let html = std::fs::read_to_string(report(&all_results(), &dir)).expect("the page");
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
    for external in [
        " src=",
        "<link",
        "@import",
        "url(",
        "href=\"http",
        "href=\"//",
    ] {
        assert!(!html.contains(external), "the page has `{external}`");
    }
    assert!(html.contains("<style>") && html.contains("<script>"));
    let _ = std::fs::remove_dir_all(dir);
}

fn the_report_of_every_results_file_opens_in_chromium_with_grids_and_working_filters() {
    let dir = temp("chromium");
    let files = all_results();
    let page = report(&files, &dir);
    // The script applies the query's filters: SCTP cases that failed or were skipped.
    let dom = chromium(
        &dir,
        &url(&page, "?tag=sctp&verdict=failed,skipped"),
        &["--dump-dom".into()],
    );
    assert!(
        dom.contains("<body data-ready=\"true\">"),
        "the script did not finish"
    );
    for part in [
        "<section id=\"summary\">",
        "<section id=\"support\">",
        "<select id=\"filter-tag\">",
        "<option value=\"ip-block\">ip-block</option>",
        "<fieldset id=\"filter-verdict\">",
        "<input type=\"search\" id=\"filter-name\"",
        "<td class=\"s unsupported\">unsupported</td>",
    ] {
        assert!(dom.contains(part), "no `{part}` in the DOM");
    }
    assert_eq!(
        dom.matches("name=\"verdict\"").count(),
        4,
        "a box per verdict"
    );
    // Mismatches are outlined and keep the probe's raw result for the hover.
    assert!(dom.contains("<table class=\"grid expected\">"));
    assert!(dom.contains("<table class=\"grid observed\">"));
    assert!(dom.contains(
        " m\" title=\"y/a → x/a tcp/80, tcp/81, udp/80, udp/81: connected (expected blocked)\""
    ));
    assert!(dom.contains(": timeout (expected blocked)\">X</td>"));

    // Chromium writes the `hidden` the script set into each case's opening tag.
    let tags: Vec<&str> = dom
        .match_indices("<details class=\"case\"")
        .map(|(at, _)| dom[at..].split('>').next().unwrap_or(""))
        .collect();
    let cases = tags.len();
    let shown = tags.iter().filter(|t| !t.contains(" hidden")).count();
    let count = format!("id=\"filter-count\">{shown} of {cases} cases</output>");
    assert!(dom.contains(&count), "no `{count}`");
    assert!(shown >= 7 && shown < cases, "{shown} of {cases} shown");

    screenshot(&dir, &page, DOCS_QUERY);
    let _ = std::fs::remove_dir_all(dir);
}

fn the_docs_screenshot_shows_the_netns_runs() {
    let dir = temp("docs");
    let files = ["results/netns-reference.json", "results/netns-none.json"].map(String::from);
    let page = report(&files, &dir);
    let png = screenshot(&dir, &page, DOCS_QUERY);
    if std::env::var("NETPOL_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::copy(&png, root().join(DOCS_SCREENSHOT)).expect("docs screenshot written");
    }
    assert!(
        root().join(DOCS_SCREENSHOT).exists(),
        "{DOCS_SCREENSHOT} is missing: NETPOL_UPDATE_DOCS=1 cargo test -p netpol-harness --test report_html"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn main() -> std::process::ExitCode {
    env::run(vec![
        plain!(the_page_fetches_nothing_and_carries_everything_inline),
        gated!(
            Needs::Chromium,
            the_report_of_every_results_file_opens_in_chromium_with_grids_and_working_filters
        ),
        gated!(Needs::Chromium, the_docs_screenshot_shows_the_netns_runs),
    ])
}
