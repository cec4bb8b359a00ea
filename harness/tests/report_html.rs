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
/// Tall enough that the docs screenshot shows the open case's grids below
/// the time-to-enforce section and its distribution.
const WINDOW: (u32, u32) = (1400, 2300);
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

/// The netns runs the issue compares: our reference enforcer, two engines, none.
const NETNS_RUNS: [&str; 4] = [
    "results/netns-reference.json",
    "results/netns-kube-router.json",
    "results/netns-calico-felix.json",
    "results/netns-none.json",
];

/// What a results file's row has to show, read from its JSON (not through
/// netpol's types): the run's label and its steps with a time, without one
/// after being judged, and without one because they were skipped.
#[derive(Debug)]
struct Expected {
    label: String,
    timed: usize,
    never_enforced: usize,
    not_run: usize,
}

fn expected(file: &str) -> Expected {
    let text = std::fs::read_to_string(root().join(file)).expect("a results file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let text_of = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
    let mut out = Expected {
        label: format!(
            "{}/{}",
            text_of(&json["backend"]),
            text_of(&json["cni"]["name"])
        ),
        timed: 0,
        never_enforced: 0,
        not_run: 0,
    };
    for case in json["cases"].as_array().expect("cases") {
        for step in case["steps"].as_array().expect("steps") {
            match (
                step["time_to_enforce_ms"].is_null(),
                step["verdict"].as_str(),
            ) {
                (false, _) => out.timed += 1,
                (true, Some("skipped")) => out.not_run += 1,
                (true, _) => out.never_enforced += 1,
            }
        }
    }
    out
}

/// The value of `name="…"` in an opening tag.
fn attribute<'a>(tag: &'a str, name: &str) -> &'a str {
    let start = tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3;
    &tag[start..start + tag[start..].find('"').expect("a closing quote")]
}

/// A page of our own (no CSP) that frames the report and writes what the
/// browser laid out of the svg into its DOM as JSON: the report's page and
/// script stay as they are.
const MEASURE: &str = r#"<!doctype html>
<html><body><iframe id="report" src="report.html" width="1400" height="2000"></iframe>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("report").contentDocument;
  const svg = doc.querySelector("svg.distribution");
  svg.scrollIntoView();
  const frame = svg.getBoundingClientRect();
  const rows = Array.from(svg.querySelectorAll("g.run")).map((row) => {
    const band = row.querySelector("rect.band").getBoundingClientRect();
    const dots = Array.from(row.querySelectorAll("circle.dot"));
    const rects = dots.map((dot) => [dot, dot.getBoundingClientRect()]);
    const inside = rects.filter(([, r]) => r.width > 0 && r.height > 0 &&
      r.left >= frame.left && r.right <= frame.right && r.top >= band.top && r.bottom <= band.bottom);
    const topmost = rects.filter(([dot, r]) =>
      doc.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === dot);
    const style = dots.length ? getComputedStyle(dots[0]) : null;
    const box = row.querySelector("rect.box");
    return {
      run: row.dataset.run,
      dots: dots.length,
      inside: inside.length,
      topmost: topmost.length,
      fill: style ? style.fill : null,
      opacity: style ? parseFloat(style.fillOpacity) : null,
      box_height: box ? box.getBoundingClientRect().height : 0,
    };
  });
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify({
    ready: doc.body.dataset.ready === "true", width: frame.width, height: frame.height, rows,
  });
  document.body.append(out);
});
</script></body></html>
"#;

fn the_time_to_enforce_distribution_is_drawn_as_inline_svg_per_run_in_chromium() {
    let dir = temp("distribution");
    let files = NETNS_RUNS.map(String::from);
    let runs: Vec<Expected> = files.iter().map(|f| expected(f)).collect();
    let page = report(&files, &dir);

    // The DOM Chromium built from the page: one svg, sized, a row per run.
    let dom = chromium(&dir, &url(&page, ""), &["--dump-dom".into()]);
    assert!(
        dom.contains("<body data-ready=\"true\">"),
        "the script did not finish"
    );
    assert_eq!(dom.matches("<svg class=\"distribution\"").count(), 1);
    let start = dom.find("<svg class=\"distribution\"").expect("the svg");
    let svg = &dom[start..start + dom[start..].find("</svg>").expect("the svg ends")];
    assert!(
        dom[..start]
            .rfind("<section ")
            .is_some_and(|at| dom[at..].starts_with("<section id=\"enforce\">")),
        "the svg is in the time-to-enforce section"
    );
    let open = &svg[..svg.find('>').expect("the opening tag")];
    let size = |name| attribute(open, name).parse::<f64>().expect("a number");
    let (width, height) = (size("width"), size("height"));
    assert!(width > 0.0 && height > 0.0, "{open}");
    assert_eq!(attribute(open, "viewBox"), format!("0 0 {width} {height}"));
    assert!(attribute(open, "aria-label").starts_with("Time to enforce of each run"));
    assert!(
        svg.contains("time to enforce, ms (log scale)"),
        "53 … 1192 ms is a log axis"
    );
    let rows: Vec<&str> = svg.split("<g class=\"run").skip(1).collect();
    assert_eq!(rows.len(), runs.len(), "a row per run");
    for (row, run) in rows.iter().zip(&runs) {
        let row = &row[..row.find("</g>").expect("the row ends")];
        assert_eq!(attribute(row, "data-run"), run.label);
        assert_eq!(
            row.matches("<circle class=\"dot\"").count(),
            run.timed,
            "{run:?}"
        );
        assert_eq!(attribute(row, "data-enforced"), run.timed.to_string());
        assert_eq!(
            attribute(row, "data-never-enforced"),
            run.never_enforced.to_string()
        );
        assert_eq!(attribute(row, "data-not-run"), run.not_run.to_string());
        if run.never_enforced > 0 {
            let counted = format!(" · {} never enforced", run.never_enforced);
            assert!(row.contains(&counted), "{} has no `{counted}`", run.label);
        }
    }
    // The none run enforces almost nothing; its few converged steps are drawn,
    // the rest only counted.
    assert!(
        runs[3].timed > 0 && runs[3].never_enforced > 100,
        "{:?}",
        runs[3]
    );

    // What the browser laid out: every dot inside its row and painted in
    // its row's colour, some of each row's on top where they sit.
    std::fs::write(dir.join("measure.html"), MEASURE).expect("the measuring page");
    let measured = chromium(
        &dir,
        &url(&dir.join("measure.html"), ""),
        &[
            "--allow-file-access-from-files".into(),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            "--dump-dom".into(),
        ],
    );
    let json = measured
        .split("<pre id=\"measured\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .expect("the measuring page wrote its result")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let laid: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        laid["ready"], true,
        "the report's script finished in the frame"
    );
    assert!(laid["width"].as_f64() > Some(0.0) && laid["height"].as_f64() > Some(0.0));
    let rows = laid["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), runs.len());
    let mut fills = Vec::new();
    for (row, run) in rows.iter().zip(&runs) {
        assert_eq!(row["run"], run.label.as_str());
        assert_eq!(row["dots"], run.timed, "{row}");
        assert_eq!(
            row["inside"], run.timed,
            "every dot drawn inside its row: {row}"
        );
        assert!(
            row["topmost"].as_u64() > Some(0),
            "no dot of {} is on top: {row}",
            run.label
        );
        assert!(row["opacity"].as_f64() > Some(0.0), "{row}");
        assert!(row["box_height"].as_f64() > Some(0.0), "{row}");
        let fill = row["fill"].as_str().expect("a fill").to_owned();
        assert!(
            fill.starts_with("rgb(") && fill != "rgb(0, 0, 0)",
            "page.css colours the dots: {row}"
        );
        fills.push(fill);
    }
    fills.sort();
    fills.dedup();
    assert_eq!(fills.len(), runs.len(), "each run its own colour");

    screenshot(&dir, &page, "");
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
        gated!(
            Needs::Chromium,
            the_time_to_enforce_distribution_is_drawn_as_inline_svg_per_run_in_chromium
        ),
    ])
}
