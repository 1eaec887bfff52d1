//! The result written out: CSV (one row per line of every contest, then its totals), a table for the terminal,
//! and `result.json` and `result.csv` signed with the ceremony's key.

use std::fmt::Write as _;
use std::path::Path;

use super::TallyReport;
use crate::error::TallyError;
use crate::signing::SigningKey;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Renders the result as CSV: one row per line of every contest, then the contest's totals.
pub fn to_csv(report: &TallyReport) -> String {
    let mut out = String::from("contest_id,line,number,name,votes,party_votes,candidate_votes\n");
    for c in &report.contests {
        let id = csv_field(&c.contest_id);
        for p in &c.parties {
            let _ = writeln!(
                out,
                "{id},party,{},{},{},{},{}",
                p.number,
                csv_field(&p.name),
                p.total,
                p.party_votes,
                p.candidate_votes
            );
        }
        for k in &c.candidates {
            let line = match (k.withdrawn, k.tokutei) {
                (true, _) => "candidate_withdrawn",
                (false, true) => "candidate_tokutei",
                (false, false) => "candidate",
            };
            let _ = writeln!(out, "{id},{line},{},{},{},,", k.number, csv_field(&k.name), k.votes);
        }
        for j in &c.judges {
            let _ = writeln!(out, "{id},judge_dismiss,{},{},{},,", j.position, csv_field(&j.name), j.dismiss);
        }
        for (what, n) in [
            ("voters", c.voters),
            ("valid", c.valid),
            ("blank", c.blank),
            ("invalid", c.invalid),
            ("invalid_withdrawn", c.invalid_withdrawn),
        ] {
            let _ = writeln!(out, "{id},{what},,,{n},,");
        }
        if c.below_k {
            let _ = writeln!(out, "{id},below_k,,,{},,", report.small_count_k);
        }
    }
    out
}

/// Renders the result as a text table for the terminal.
pub fn to_table(report: &TallyReport) -> String {
    let mut out = format!(
        "Election {} district {}\nDecryption path {}\n{}.\n",
        report.election_id, report.district, report.decrypt_path, report.purpose
    );
    for c in &report.contests {
        let _ = writeln!(
            out,
            "\n== {} ({:?}): voters {}, valid {}, blank (白票) {}, invalid {} (for a withdrawn candidate {})",
            c.contest_id, c.kind, c.voters, c.valid, c.blank, c.invalid, c.invalid_withdrawn
        );
        if c.below_k {
            let _ = writeln!(
                out,
                "  WARNING: {} has {} internet ballots, fewer than k = {}: published alone, these totals could show \
                 how individual internet voters voted. Add them to the counting station's paper ballots first.",
                c.contest_id, c.voters, report.small_count_k
            );
        }
        if c.from_unopened_batches > 0 {
            let _ = writeln!(
                out,
                "  {} ballots came in batches the verifier could not open; opened here (trackers in result.json)",
                c.from_unopened_batches
            );
        }
        for d in &c.duplicates {
            let _ = writeln!(
                out,
                "  WARNING: ciphertext {} was received {} times (re-signed by another voter); counted once",
                d.tracker,
                d.extra_copies + 1
            );
        }
        for p in &c.parties {
            let _ = writeln!(
                out,
                "  party {:>3} {:<24} total {:>8} (party {}, candidates {})",
                p.number, p.name, p.total, p.party_votes, p.candidate_votes
            );
        }
        for k in &c.candidates {
            let mark = match (k.withdrawn, k.tokutei) {
                (true, _) => " withdrew or died during voting: votes for them are invalid",
                (false, true) => " 特定枠",
                (false, false) => "",
            };
            let _ = writeln!(out, "  cand  {:>3} {:<24} {:>8}{mark}", k.number, k.name, k.votes);
        }
        for j in &c.judges {
            let _ = writeln!(out, "  judge {:>3} {:<24} dismiss {:>8}", j.position, j.name, j.dismiss);
        }
    }
    out
}

/// Writes `result.json` and `result.csv` with Ed25519 signatures beside them (`.sig`, hex) into a new folder.
pub fn write_results(dir: &Path, report: &TallyReport, key: &SigningKey) -> Result<(), TallyError> {
    std::fs::create_dir_all(dir).map_err(|e| TallyError::Io(format!("creating {}: {e}", dir.display())))?;
    let json = serde_json::to_string_pretty(report).map_err(|e| TallyError::Io(e.to_string()))?;
    let csv = to_csv(report);
    for (name, text) in [("result.json", json), ("result.csv", csv)] {
        let signed = key.sign(text);
        files::create_new(&dir.join(name), signed.document.as_bytes(), files::Access::Everyone)?;
        files::create_new(
            &dir.join(format!("{name}.sig")),
            format!("{}\n{}\n", signed.signature, signed.public_key).as_bytes(),
            files::Access::Everyone,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_names_with_commas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("山田 太郎"), "山田 太郎");
    }
}
