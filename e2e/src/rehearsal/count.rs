//! A round's last phase: the window closes (the verifier restarted with the clock past the close), the record
//! (調書), the published ballot box, then per district the export (asked by an admin, approved and carried out by
//! the counting officer), `tally import` and `tally count` in the token with 3 of the 5 PIN shares; the round's
//! outcome sets what the browsers cast beside what the count found.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use chrono::{TimeDelta, Utc};

use super::serve::Served;
use super::voting::Ballots;
use super::{ElectionOutcome, MUNICIPALITY, Rehearsal, Round};

/// Closes the window and counts every district in the token; returns the round's outcome.
pub(super) fn close_and_count(
    r: &mut Rehearsal<'_>,
    round: &mut Round,
    ballots: Ballots,
) -> anyhow::Result<ElectionOutcome> {
    let id = round.id.clone();
    let close_offset = (round.election.window().closes_at - Utc::now() + TimeDelta::minutes(5)).num_seconds();
    r.say(&format!("[{id}] the window closes: verifier restarted with the clock {close_offset:+} s"));
    let served = round.config.start(Some(close_offset), &[])?;
    // Operator sessions are in memory: a restart ends them.
    round.clerk.login(&served.operator_url)?;
    let record = record(r, round, &served)?;
    let published = published_ballot_box(r, round, &served)?;
    let mut all_published: Vec<String> = published.contests.iter().flat_map(|c| c.trackers.clone()).collect();
    let held: u64 = published.contests.iter().map(|c| c.unopened).sum();
    r.say(&format!(
        "[{id}] {} trackers in the box; {held} ballots in batches the restarted verifier could not open (the count \
         opens them and publishes their trackers)",
        all_published.len()
    ));

    let mut counted = BTreeMap::new();
    let mut invalid = 0;
    let election_json = r.lab.work.join(format!("{id}.json"));
    std::fs::write(&election_json, serde_json::to_vec(&round.election)?)?;
    for district in round.districts.clone() {
        r.say(&format!("[{id}] export of district {district}, import and count in the token (3 of 5 shares)"));
        let export = export(r, round, &district, close_offset, &published)?;
        let report = count_in_token(r, round, &district, &export, &election_json, &record)?;
        let (lines, bad) = counted_lines(&report);
        counted.extend(lines);
        invalid += bad;
        all_published.extend(report.contests.iter().flat_map(|c| c.unopened_trackers.clone()));
    }
    let Ballots { voted, trackers } = ballots;
    let trackers_published = trackers.iter().filter(|t| all_published.contains(t)).count();
    drop(served);
    let notices = r.lab.smtp.received().len() - round.notices_before;
    Ok(ElectionOutcome { election_id: id, voted, counted, invalid, trackers, trackers_published, notices, record })
}

/// The record (調書) of the municipality, as the clerk reads it: voters per contest.
fn record(r: &mut Rehearsal<'_>, round: &Round, served: &Served) -> anyhow::Result<BTreeMap<String, i64>> {
    r.say(&format!("[{}] the record (調書) of municipality {MUNICIPALITY}", round.id));
    let record_json =
        round.clerk.call(&served.operator_url, &["call", "GET", &format!("record?municipality={MUNICIPALITY}")])?;
    Ok(record_json["voters_per_contest"]
        .as_array()
        .context("no voters_per_contest in the record")?
        .iter()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_i64()?)))
        .collect())
}

/// The published ballot box, read as anyone would once the verifier has sealed it.
fn published_ballot_box(
    r: &mut Rehearsal<'_>,
    round: &Round,
    served: &Served,
) -> anyhow::Result<shared::export::PublishedBallotBox> {
    r.say(&format!(
        "[{}] the published ballot box (trackers and Merkle roots), once the verifier has sealed it",
        round.id
    ));
    let url = format!("{}api/v1/elections/current/ballot-box", served.base_url);
    let mut sealed = http_get(&url);
    for _ in 0..50 {
        if sealed.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        sealed = http_get(&url);
    }
    Ok(serde_json::from_str(&sealed?)?)
}

/// The district's export, requested by an admin and approved (and so carried out) by the counting officer on the
/// rehearsal's clock; its tracker roots must be the published ones. Returns the export file.
fn export(
    r: &Rehearsal<'_>,
    round: &mut Round,
    district: &str,
    close_offset: i64,
    published: &shared::export::PublishedBallotBox,
) -> anyhow::Result<PathBuf> {
    let id = &round.id;
    let export = r.lab.work.join(format!("{id}-{district}-export.json"));
    round.crew.set_env("VERIFIER_INSECURE_TEST_CLOCK_OFFSET_SECONDS", &close_offset.to_string());
    round.crew.four_eyes(&[
        OsStr::new("export"),
        OsStr::new("--district"),
        OsStr::new(district),
        OsStr::new("--export-key"),
        r.lab.export_key.as_os_str(),
        OsStr::new("--out"),
        export.as_os_str(),
    ])?;
    let file: shared::export::ExportFile = serde_json::from_slice(&std::fs::read(&export)?)?;
    let manifest: shared::export::Manifest = serde_json::from_str(&file.manifest)?;
    for c in &manifest.contests {
        let root = published.contests.iter().find(|p| p.contest_id == c.contest_id).map(|p| p.root.as_str());
        ensure!(
            root == Some(c.tracker_root.as_str()),
            "[{id}] {}: the export's tracker root is the published one",
            c.contest_id
        );
    }
    Ok(export)
}

/// `tally import` of the export, expecting the record's counts, then `tally count` in the token with shares 1, 3
/// and 5; returns the count's result.
fn count_in_token(
    r: &Rehearsal<'_>,
    round: &Round,
    district: &str,
    export: &Path,
    election_json: &Path,
    record: &BTreeMap<String, i64>,
) -> anyhow::Result<tally::count::TallyReport> {
    let (lab, ceremony) = (&r.lab, &round.ceremony);
    let mut import = vec![
        export.to_string_lossy().to_string(),
        "--election".into(),
        election_json.to_string_lossy().to_string(),
        "--ceremony".into(),
        ceremony.join("ceremony.json").to_string_lossy().to_string(),
        "--export-key-public".into(),
        lab.export_public.clone(),
    ];
    for c in round.election.contests.iter().filter(|c| c.district == district) {
        let n = record.get(c.id.as_str()).copied().unwrap_or(0);
        import.extend(["--expected-count-per-contest".into(), format!("{}={n}", c.id)]);
    }
    import.extend(["--expected-count".into(), "0".into()]);
    let mut args = vec!["import".to_string()];
    args.extend(import.clone());
    lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    let results = lab.work.join(format!("{}-{district}-results", round.id));
    let mut args = vec!["count".to_string()];
    args.extend(import);
    args.extend(["--module".into(), round.module.clone(), "--allow-raw-rsa-with-host-oaep".into()]);
    args.extend(["--out".into(), results.to_string_lossy().to_string()]);
    for share in [1, 3, 5] {
        args.extend([
            "--share".into(),
            ceremony.join(format!("pin-share-{share}-of-5.json")).to_string_lossy().to_string(),
        ]);
    }
    lab.tally(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
    Ok(serde_json::from_slice(&std::fs::read(results.join("result.json"))?)?)
}

/// The count's result in the rehearsal's terms (lines with zero left out), and the ballots it could not read.
fn counted_lines(report: &tally::count::TallyReport) -> (BTreeMap<(String, String), u64>, u64) {
    let mut out = BTreeMap::new();
    let mut invalid = 0;
    for c in &report.contests {
        let mut put = |line: String, n: u64| {
            if n > 0 {
                out.insert((c.contest_id.clone(), line), n);
            }
        };
        for cand in &c.candidates {
            put(format!("candidate:{}", cand.number), cand.votes);
        }
        for p in &c.parties {
            put(format!("party:{}", p.number), p.party_votes);
        }
        for j in &c.judges {
            put(format!("judge:{}", j.position), j.dismiss);
        }
        put("blank".into(), c.blank);
        if c.kind == shared::election::ContestKind::JudicialReview {
            put("ballots".into(), c.voters);
        }
        invalid += c.invalid;
    }
    (out, invalid)
}

/// A plain HTTP GET on loopback (the published ballot box is public).
fn http_get(url: &str) -> anyhow::Result<String> {
    let rest = url.strip_prefix("http://").context("http only")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).context("no path")?;
    let mut stream = std::net::TcpStream::connect(host)?;
    use std::io::{Read, Write};
    // HTTP/1.0: the whole body, never chunked.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("no HTTP body")?;
    ensure!(head.split_whitespace().nth(1) == Some("200"), "GET {path}: {head}");
    Ok(body.to_string())
}
