//! `netpol generate`: random valid cases over the model, reproducible from a
//! seed, each step expecting the oracle's matrix (run them with
//! `netpol run --differential`).

use std::path::PathBuf;

use super::UsageError;
use crate::exit;
use crate::generate;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Case `i` of a seed is the same on every machine and for every `--count`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How many cases (`gen-<seed>-0` …).
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Write one `<name>.yaml` per case here (created if missing); without
    /// it the cases go to stdout, separated by `---`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn generate(args: GenerateArgs) -> Result<u8, UsageError> {
    let cases = generate::generate(args.seed, args.count);
    let Some(dir) = args.out else {
        for (i, case) in cases.iter().enumerate() {
            if i > 0 {
                println!("---");
            }
            print!("# {}.yaml\n{}", case.name, case.yaml);
        }
        return Ok(exit::PASSED);
    };
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|source| UsageError::Write { path, source })
    };
    std::fs::create_dir_all(&dir).map_err(|source| UsageError::Write {
        path: dir.clone(),
        source,
    })?;
    for case in &cases {
        write(dir.join(format!("{}.yaml", case.name)), &case.yaml)?;
    }
    eprintln!(
        "netpol generate: {} cases in {} (run them with `netpol run --differential --cases {}`)",
        cases.len(),
        dir.display(),
        dir.display()
    );
    Ok(exit::PASSED)
}
