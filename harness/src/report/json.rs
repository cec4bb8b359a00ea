//! The results file of `results-format.md` (schema `netpol-results/v1`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::{ClusterInfo, CniInfo};
use crate::model::{IpFamily, Probe};
use crate::truth::Reach;
use crate::verdict::{CaseResult, Comparison, StepResult, Summary, Verdict};

pub const SCHEMA: &str = "netpol-results/v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub schema: String,
    pub tool: Tool,
    pub backend: String,
    pub cni: CniInfo,
    pub cluster: ClusterInfo,
    pub started_at: String,
    pub duration_ms: u64,
    /// The address families probed (`ipv4`, `ipv6` or `dual`): in `dual`
    /// every probe is judged once per family, and an IPv6 cell's probe is
    /// labelled `tcp/80 (v6)`. Absent in older files: read it as `ipv4`.
    #[serde(default)]
    pub ip_family: IpFamily,
    pub summary: Summary,
    /// Why the run stopped before judging every case (the world could not be
    /// reset); `null` when it judged them all. Absent in older files.
    #[serde(default)]
    pub stopped: Option<String>,
    /// What removing the world could not remove; `null` when it all went.
    /// Absent in older files.
    #[serde(default)]
    pub cleanup: Option<String>,
    /// The signal that ended the run before every case was judged
    /// (`interrupted` for SIGINT, `terminated` for SIGTERM): the cases it
    /// kept from being judged are `skipped`, `not run: the run was
    /// interrupted`. Absent when no signal came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub cases: Vec<CaseRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
    pub git: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub name: String,
    pub file: String,
    pub tags: Vec<String>,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub duration_ms: u64,
    pub steps: Vec<StepRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub attempts: u32,
    pub time_to_enforce_ms: Option<u64>,
    /// The first path probed: the pods' own addresses (the Services with
    /// `--probe-via service`).
    pub probes: BTreeMap<String, ProbeRecord>,
    /// The Service path, as `probes`, when it was probed beside the pod IPs
    /// (`--probe-via both`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_probes: Option<BTreeMap<String, ProbeRecord>>,
    /// The cells where the two paths reached different results in the
    /// step's final round; absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divergences: Vec<DivergenceRecord>,
}

/// One cell where the pod-IP and Service paths disagreed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DivergenceRecord {
    pub from: String,
    pub to: String,
    pub probe: String,
    /// The raw results (`connected`, `timeout`, `error: …`) of each path.
    pub pod: String,
    pub service: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeRecord {
    /// Rendered tables, exactly as the terminal prints them.
    pub expected: Vec<String>,
    pub observed: Vec<String>,
    pub mismatches: Vec<MismatchRecord>,
    /// The probe's raw result per cell (`connected`, `refused`, `timeout`,
    /// `error: …`, `unsupported`): rows are sources, columns destinations, in
    /// the order of the tables' header.
    pub raw: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MismatchRecord {
    pub from: String,
    pub to: String,
    pub expected: bool,
    /// Whether the probe connected; `null` when the probe failed and observed
    /// nothing (never read as a block).
    pub observed: Option<bool>,
    /// The raw result behind `observed` (`error: …` for a failed probe).
    pub result: String,
}

/// What the run was, beside its case results.
pub struct RunInfo {
    pub backend: String,
    pub cni: CniInfo,
    pub cluster: ClusterInfo,
    pub started: SystemTime,
    pub duration: Duration,
    pub ip_family: IpFamily,
    /// Why it stopped before judging every case.
    pub stopped: Option<String>,
    /// What teardown could not remove.
    pub cleanup: Option<String>,
    /// The signal that ended the run early.
    pub interrupted: Option<String>,
}

impl Results {
    pub fn new(info: RunInfo, cases: &[CaseResult]) -> Results {
        Results {
            schema: SCHEMA.into(),
            tool: Tool {
                name: "netpol".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                git: option_env!("NETPOL_GIT").map(str::to_owned),
            },
            backend: info.backend,
            cni: info.cni,
            cluster: info.cluster,
            started_at: rfc3339(info.started),
            duration_ms: millis(info.duration),
            ip_family: info.ip_family,
            summary: Summary::of(cases),
            stopped: info.stopped,
            cleanup: info.cleanup,
            interrupted: info.interrupted,
            cases: cases.iter().map(case_record).collect(),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn case_record(case: &CaseResult) -> CaseRecord {
    CaseRecord {
        name: case.name.clone(),
        file: case.file.clone(),
        tags: case.tags.clone(),
        verdict: case.verdict,
        reason: case.reason.clone(),
        duration_ms: millis(case.duration),
        steps: case.steps.iter().map(step_record).collect(),
    }
}

fn step_record(step: &StepResult) -> StepRecord {
    StepRecord {
        index: step.index,
        verdict: step.verdict,
        reason: step.reason.clone(),
        attempts: step.attempts,
        time_to_enforce_ms: step.time_to_enforce.map(millis),
        probes: probe_records(&step.comparisons),
        service_probes: step.service.as_ref().map(probe_records),
        divergences: step
            .divergences
            .iter()
            .map(|d| DivergenceRecord {
                from: d.from.to_string(),
                to: d.to.to_string(),
                probe: d.probe.to_string(),
                pod: d.pod.detail(),
                service: d.service.detail(),
            })
            .collect(),
    }
}

fn probe_records(comparisons: &BTreeMap<Probe, Comparison>) -> BTreeMap<String, ProbeRecord> {
    comparisons
        .iter()
        .map(|(probe, comparison)| {
            let mismatches = comparison
                .mismatches()
                .into_iter()
                .map(|m| MismatchRecord {
                    from: m.from.to_string(),
                    to: m.to.to_string(),
                    expected: m.expected == Reach::Allowed,
                    observed: m.observed.reach().map(|r| r == Reach::Allowed),
                    result: m.observed.detail(),
                })
                .collect();
            let record = ProbeRecord {
                expected: comparison.expected.render_lines(),
                observed: comparison.observed.render_lines(),
                mismatches,
                raw: comparison.observed.raw_rows(),
            };
            (probe.to_string(), record)
        })
        .collect()
}

/// `2026-11-26T10:00:00Z`, from the civil calendar (no time zone database needed).
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_688_400);
        assert_eq!(rfc3339(t), "2026-11-26T10:20:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
