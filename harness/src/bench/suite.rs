//! `netpol bench suite`: the whole case library on the netns backend.

use std::time::{Duration, Instant};

use super::oracle::ms;
use crate::backend::Backend;
use crate::case::Case;
use crate::error::chain;
use crate::model::Model;
use crate::run::Session;
use crate::verdict::Verdict;

#[derive(Clone, Debug)]
pub struct SuiteFigures {
    pub cases: usize,
    pub steps: usize,
    pub failed: usize,
    pub setup: Duration,
    pub run: Duration,
    pub teardown: Duration,
}

pub async fn measure<B: Backend>(backend: &mut B, cases: &[Case]) -> Result<SuiteFigures, String> {
    let model = Model::default();
    let started = Instant::now();
    let mut session = Session::new(backend, &model, None);
    session.setup().await.map_err(|e| chain(&e))?;
    let setup = started.elapsed();
    let started = Instant::now();
    for case in cases {
        session.judge(case).await;
    }
    let (results, stopped) = session.finish();
    if let Some(stopped) = stopped {
        return Err(chain(&stopped));
    }
    let failed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Failed)
        .count();
    let run_time = started.elapsed();
    let started = Instant::now();
    backend.teardown().await.map_err(|e| chain(&e))?;
    let steps = cases.iter().map(|c| c.steps.len()).sum();
    Ok(SuiteFigures {
        cases: cases.len(),
        steps,
        failed,
        setup,
        run: run_time,
        teardown: started.elapsed(),
    })
}

pub fn report(f: &SuiteFigures) -> String {
    let wall = f.setup + f.run + f.teardown;
    format!(
        "method: every case of the library ({} cases, {} steps) on one netns world with the reference enforcer, \
         one after the other; wall time includes building and removing the world\n\
         setup {:.0} ms, cases {:.0} ms ({:.0} ms per step), teardown {:.0} ms, {} failed\n\
         suite: {} cases in {:.1} s, {:.2} cases/s",
        f.cases,
        f.steps,
        ms(f.setup),
        ms(f.run),
        ms(f.run) / f.steps.max(1) as f64,
        ms(f.teardown),
        f.failed,
        f.cases,
        wall.as_secs_f64(),
        f.cases as f64 / wall.as_secs_f64().max(1e-9)
    )
}
