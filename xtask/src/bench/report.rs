//! The report: bench.json assembled from the runs' figures beside their targets (with the soak's flatness), and
//! written with bench.md and README.md's Performance table between its markers. It reports; it never fails a
//! target.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::table::markdown;
use super::{
    END, START, TARGET_ATTACK_GROWTH_BYTES, TARGET_BALLOTS_PER_S, TARGET_RSS_KIB, TARGET_SHARE_OF_LIMIT,
    TARGET_SOAK_GROWTH, TARGET_TALLY_SHARE, TARGET_UNDER_ATTACK_P99_MS, TARGET_UNDER_ATTACK_PER_S,
    TARGET_WASM_GZIP_BYTES, utc_now,
};
use crate::run::root;

/// Writes bench.json (with the latest soak.json's figures beside it) and bench.md, and the README's table.
pub(super) fn write_report(dir: &Path, mut report: Value) -> anyhow::Result<()> {
    // A soak still running has an empty or partial soak.json: the run's figures are kept and the soak left out.
    match std::fs::read(dir.join("soak.json")).map(|b| serde_json::from_slice::<Value>(&b)) {
        Ok(Ok(mut soak)) => {
            let samples: Vec<(f64, f64)> = serde_json::from_value(soak["load"]["rss_kib_samples"].clone())
                .context("soak.json has no rss_kib_samples")?;
            let flat = flatness(&samples);
            let growth = flat["growth_share"].as_f64().unwrap_or(f64::NAN);
            report["targets"]["soak_rss_flat"] = json!({ "target": TARGET_SOAK_GROWTH, "measured": growth,
                                                        "met": growth.abs() <= TARGET_SOAK_GROWTH });
            soak["flatness"] = flat;
            report["soak"] = soak;
        }
        Ok(Err(e)) => println!("bench: target/bench/soak.json is not a finished soak ({e}); its row is left out"),
        Err(_) => {}
    }
    let table = markdown(&report);
    std::fs::write(dir.join("bench.json"), serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::write(dir.join("bench.md"), &table)?;
    replace_readme(&root().join("README.md"), &table)?;
    println!("\n{table}\nwrote {0}/bench.json, {0}/bench.md and README.md's Performance table", dir.display());
    Ok(())
}

/// The soak's memory curve: when it reached 95 % of its peak (the warm-up), and its growth over the last third —
/// the mean of the last tenth against the mean of the tenth that starts at two thirds.
fn flatness(samples: &[(f64, f64)]) -> Value {
    let end = samples.last().map_or(0.0, |s| s.0);
    let mean = |from: f64, to: f64| {
        let part: Vec<f64> = samples.iter().filter(|s| s.0 >= from && s.0 < to).map(|s| s.1).collect();
        if part.is_empty() { f64::NAN } else { part.iter().sum::<f64>() / part.len() as f64 }
    };
    let max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    let warm = samples.iter().find(|s| s.1 >= 0.95 * max).map_or(f64::NAN, |s| s.0);
    let (at_two_thirds, last) = (mean(end * 2.0 / 3.0, end * (2.0 / 3.0 + 0.1)), mean(end * 0.9, end + 1.0));
    json!({
        "warm_up_s": warm,
        "two_thirds_mean_kib": at_two_thirds,
        "last_tenth_mean_kib": last,
        "growth_share": (last - at_two_thirds) / at_two_thirds,
        "max_kib": max,
    })
}

pub(super) fn assemble(load: &Value, verify_per_s: f64, wasm: &Value) -> anyhow::Result<Value> {
    let f = |v: &Value, path: &str| -> anyhow::Result<f64> {
        v.pointer(path).and_then(Value::as_f64).with_context(|| format!("the report lacks {path}"))
    };
    let ballots_per_s = f(load, "/load/throughput/accepted_per_s")?;
    let sqlite = f(load, "/sqlite_commits_per_s")?;
    let limit = verify_per_s.min(sqlite);
    let ratio = ballots_per_s / limit;
    let gzip = f(wasm, "/gzip9_bytes")? as u64;
    Ok(json!({
        "measured_at": utc_now(),
        "machine": { "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) },
        "cast": load,
        "limits": {
            "openssl_rsa2048_verify_per_s": verify_per_s,
            "sqlite_durable_commits_per_s": sqlite,
            "smaller": limit,
            "ballots_per_s_over_smaller_limit": ratio,
        },
        "wasm": wasm,
        "targets": {
            "ballots_per_s": { "target": TARGET_BALLOTS_PER_S, "measured": ballots_per_s,
                               "met": ballots_per_s >= TARGET_BALLOTS_PER_S },
            "share_of_smaller_limit": { "target": TARGET_SHARE_OF_LIMIT, "measured": ratio,
                                        "met": ratio >= TARGET_SHARE_OF_LIMIT },
            "wasm_gzip9_bytes": { "target": TARGET_WASM_GZIP_BYTES, "measured": gzip,
                                  "met": gzip <= TARGET_WASM_GZIP_BYTES },
        },
    }))
}

/// The voting store on PostgreSQL (issue 24), with its target: the promised ballots/s and half its own limit.
pub(super) fn add_postgres(report: &mut Value, pg: &Value) {
    let n = |p: &str| pg.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let (per_s, share) = (n("/postgres/accepted_per_s"), n("/postgres/accepted_per_s_over_commits_per_s"));
    report["postgres"] = pg["postgres"].clone();
    report["postgres_measured_at"] = json!(utc_now());
    report["targets"]["postgres"] = json!({
        "target": { "ballots_per_s": TARGET_BALLOTS_PER_S, "share_of_limit": TARGET_SHARE_OF_LIMIT },
        "measured": { "ballots_per_s": per_s, "share_of_limit": share },
        "met": per_s >= TARGET_BALLOTS_PER_S && share >= TARGET_SHARE_OF_LIMIT,
    });
}

/// The casts over TLS and under attack (issue 19), with the attack's targets.
pub(super) fn add_hostile(report: &mut Value, tls: &Value, attack: &Value) {
    let n = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
    report["cast_tls"] = tls.clone();
    report["cast_under_attack"] = attack.clone();
    let (rate, p99) = (n(attack, "/load/fixed_rate/accepted_per_s"), n(attack, "/load/fixed_rate/p99_ms"));
    let offered = n(attack, "/load/fixed_rate/offered_per_s");
    let grown = n(attack, "/load/attack/alone/database_growth_bytes");
    report["targets"]["under_attack"] = json!({
        "target": { "accepted_per_s": TARGET_UNDER_ATTACK_PER_S, "p99_ms": TARGET_UNDER_ATTACK_P99_MS },
        "measured": { "accepted_per_s": rate, "offered_per_s": offered, "p99_ms": p99 },
        // Offered at the target rate, the phase reaches it to within the ramp of its first and last ballots.
        "met": rate >= 0.97 * TARGET_UNDER_ATTACK_PER_S && offered >= TARGET_UNDER_ATTACK_PER_S
            && p99 <= TARGET_UNDER_ATTACK_P99_MS,
    });
    report["targets"]["attack_database_growth_bytes"] =
        json!({ "target": TARGET_ATTACK_GROWTH_BYTES, "measured": grown, "met": grown <= TARGET_ATTACK_GROWTH_BYTES });
}

pub(super) fn add_memory_run(report: &mut Value, memory: &Value) {
    if memory.is_null() {
        return;
    }
    let hwm = memory.pointer("/verifier_memory/vm_hwm_kib").and_then(Value::as_f64).unwrap_or(f64::NAN);
    let (voters, ballots) = (memory["voters"].as_i64().unwrap_or(0), memory["ballots_stored"].as_i64().unwrap_or(0));
    report["memory_run"] = memory.clone();
    report["targets"]["verifier_vm_hwm_kib"] = json!({
        "target": TARGET_RSS_KIB, "measured": hwm, "at_voters": voters, "at_ballots": ballots,
        "met": voters >= 100_000 && ballots >= 100_000 && hwm <= TARGET_RSS_KIB,
    });
}

pub(super) fn add_tally(report: &mut Value, tally: &Value) {
    if tally.is_null() {
        return;
    }
    let ratio = tally["ratio"].as_f64().unwrap_or(0.0);
    report["tally"] = tally.clone();
    report["targets"]["tally_share_of_openssl"] =
        json!({ "target": TARGET_TALLY_SHARE, "measured": ratio, "met": ratio >= TARGET_TALLY_SHARE });
}

fn replace_readme(readme: &Path, table: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(readme)?;
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        bail!("README.md lacks the {START} … {END} markers");
    };
    anyhow::ensure!(a < b, "README.md's bench markers are out of order");
    let updated = format!("{}{START}\n{table}{}", &text[..a], &text[b..]);
    std::fs::write(readme, updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_that_warms_up_then_stays_is_flat() {
        let samples: Vec<(f64, f64)> =
            (0..=360).map(|t| (t as f64 * 10.0, 50_000.0 + 100.0 * (t.min(150) as f64))).collect();
        let f = flatness(&samples);
        assert_eq!(f["warm_up_s"].as_f64(), Some(1180.0), "95 % of the 65,000 KiB peak");
        assert_eq!(f["growth_share"].as_f64(), Some(0.0));
        let rising: Vec<(f64, f64)> = (0..=360).map(|t| (t as f64 * 10.0, 50_000.0 + 100.0 * t as f64)).collect();
        assert!(flatness(&rising)["growth_share"].as_f64().unwrap() > 0.05);
    }
}
