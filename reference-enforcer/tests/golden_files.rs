//! One trial per golden file and check: the compiler still renders it
//! exactly (`render/`), nft accepts it (`nft-check/`), and it loads into a
//! real network namespace (`netns-load/`). Regenerate with
//! `NETPOL_UPDATE_GOLDEN=1 cargo test -p netpol-enforcer --test golden_files`
//! (then review the diff).

mod support;

use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};
use netpol_enforcer::golden::{self, GoldenCase, Outcome};
use netpol_enforcer::{Nft, render::FORWARD_CHAIN};

use support::{Netns, gated, netns_missing, nft_missing};

const UPDATE: &str = "NETPOL_UPDATE_GOLDEN=1 cargo test -p netpol-enforcer --test golden_files";

/// This crate's `tests/golden`, in the source tree the tests were built from.
fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn renders_exactly(case: &GoldenCase) -> Result<(), Failed> {
    match golden::compare(case).map_err(|e| e.to_string())? {
        Outcome::Same => Ok(()),
        Outcome::Differs { line, expected, actual } => Err(format!(
            "{}:{line} differs\n  golden:   {expected}\n  compiler: {actual}\nif the change is intended, run `{UPDATE}` and review the diff",
            case.expected.display()
        )
        .into()),
        other => Err(format!("{}: {other:?}; run `{UPDATE}`", case.expected.display()).into()),
    }
}

fn passes_nft_check(case: &GoldenCase) -> Result<(), Failed> {
    let text = golden::render_case(case).map_err(|e| e.to_string())?;
    // `nft -c` sends the batch and aborts it: nothing is created here.
    Nft::default()
        .check(&text)
        .map_err(|e| Failed::from(e.to_string()))
}

fn loads_into_a_network_namespace(case: &GoldenCase) -> Result<(), Failed> {
    let text = golden::render_case(case).map_err(|e| e.to_string())?;
    let netns = Netns::create(&format!("load-{}", case.name)).map_err(|e| e.to_string())?;
    let nft = Nft::in_netns(&netns.name);
    nft.apply(&text).map_err(|e| e.to_string())?;
    // Twice: the second run replaces the table the first one made.
    nft.apply(&text).map_err(|e| e.to_string())?;
    let listed = nft
        .run(&["list", "table", "inet", "netpol"], None)
        .map_err(|e| e.to_string())?;
    if !listed.contains(&format!("chain {FORWARD_CHAIN} {{")) {
        return Err(format!("the forward chain is not listed:\n{listed}").into());
    }
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("chain ") || l.trim_start().starts_with("set "))
    {
        if !listed.contains(line.trim()) {
            return Err(format!("`{}` is not listed:\n{listed}", line.trim()).into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let arguments = Arguments::from_args();
    let dir = golden_dir();
    if std::env::var_os("NETPOL_UPDATE_GOLDEN").is_some() {
        // Rewrite first, then check as always: the trials show what is now committed.
        for name in golden::update(&dir).unwrap_or_else(|e| panic!("{e}")) {
            eprintln!("updated {}", dir.join(format!("{name}.nft")).display());
        }
    }
    let cases = match golden::cases(&dir) {
        Ok(cases) if !cases.is_empty() => cases,
        Ok(_) => panic!("no golden snapshots in {}", dir.display()),
        Err(error) => panic!("{error}"),
    };
    let mut trials = vec![Trial::test("render/no-orphaned-nft-files", move || {
        let orphans: Vec<String> = golden::check(&golden_dir())
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|(_, outcome)| *outcome == Outcome::Orphan)
            .map(|(name, _)| name)
            .collect();
        if orphans.is_empty() {
            Ok(())
        } else {
            Err(format!("orphaned: {orphans:?}; run `{UPDATE}`").into())
        }
    })];
    for case in cases {
        let name = case.name.clone();
        let (render, check, load) = (case.clone(), case.clone(), case);
        trials.push(Trial::test(format!("render/{name}"), move || {
            renders_exactly(&render)
        }));
        trials.push(Trial::ignorable_test(
            format!("nft-check/{name}"),
            move || gated(nft_missing(), || passes_nft_check(&check)),
        ));
        trials.push(Trial::ignorable_test(
            format!("netns-load/{name}"),
            move || gated(netns_missing(), || loads_into_a_network_namespace(&load)),
        ));
    }
    libtest_mimic::run(&arguments, trials).exit_code()
}
