//! A round's first phase, before anything is served: the election definition dated for today, the key ceremony in
//! the token, the counting zero check, and the election created with the ceremony's public key by two
//! administrators (four eyes), who also issue the committee's clerk and approver.

use std::ffi::OsStr;
use std::path::Path;

use chrono::Utc;
use shared::election::Election;
use verifier::operators::crew::Crew;

use super::serve::ServeConfig;
use super::{MUNICIPALITY, Rehearsal, Round, RoundPlan};
use crate::committee::Operator;
use crate::{bin_dir, free_port, root};

/// Dates the plan's election, holds its key ceremony and counting zero check, creates it and issues its
/// operators: everything a round needs before the verifier first starts.
pub(super) fn prepare(r: &mut Rehearsal<'_>, plan: RoundPlan) -> anyhow::Result<Round> {
    let election_file = r.lab.work.join(plan.template);
    let election = dated_election(&root().join("verifier/elections").join(plan.template), &election_file)?;
    let id = election.id.to_string();
    let db = r.lab.work.join(format!("{id}.sqlite"));
    let mut districts: Vec<String> = election.contests.iter().map(|c| c.district.clone()).collect();
    districts.dedup();

    let ceremony = r.lab.work.join(format!("ceremony-{id}"));
    let module = r.lab.module.to_string_lossy().to_string();
    key_ceremony(r, &id, &module, &ceremony)?;
    count_zero_check(r, &id, &module, &ceremony)?;

    r.say(&format!("[{id}] election created with the ceremony's public key; operators issued"));
    let opca = &r.lab.opca;
    // The host's named operators: two admins (four eyes), and the counting officer who approves the export.
    let crew = Crew::bootstrap(&bin_dir().join("verifier"), &db, opca, &r.lab.work.join(format!("{id}-operators")))?;
    let public_key = ceremony.join("election-public-key.pem");
    crew.four_eyes(&[
        OsStr::new("election"),
        OsStr::new("create"),
        election_file.as_os_str(),
        OsStr::new("--public-key"),
        public_key.as_os_str(),
    ])?;
    let clerk = Operator::issue(&crew, opca, "Rehearsal Clerk", "clerk", MUNICIPALITY)?;
    let approver = Operator::issue(&crew, opca, "Rehearsal Approver", "approver", MUNICIPALITY)?;
    let config = ServeConfig {
        db: db.clone(),
        pki: r.lab.pki.clone(),
        opca: opca.clone(),
        smtp_port: r.lab.smtp.port,
        helper_origin: r.lab.helper_origin.clone(),
        port: free_port()?,
        operator_port: free_port()?,
    };
    let origin = format!("http://127.0.0.1:{}", config.port);
    let notices_before = r.lab.smtp.received().len();
    Ok(Round {
        plan,
        id,
        election,
        db,
        districts,
        ceremony,
        module,
        crew,
        clerk,
        approver,
        config,
        origin,
        notices_before,
    })
}

/// `tally key-ceremony`: the election key generated inside the token, its PIN split 3 of 5.
fn key_ceremony(r: &mut Rehearsal<'_>, id: &str, module: &str, ceremony: &Path) -> anyhow::Result<()> {
    r.say(&format!("[{id}] key ceremony: RSA-3072 generated inside a SoftHSM2 token, PIN split 3 of 5"));
    r.lab.tally(&[
        "key-ceremony",
        "--module",
        module,
        "--election-id",
        id,
        "--official",
        "Counting officer A",
        "--official",
        "Auditor B",
        "--token-label",
        &format!("{id} election key"),
        "--so-pin-custody",
        "split",
        "--out",
        &ceremony.to_string_lossy(),
    ])?;
    Ok(())
}

/// `tally zero-check` with three of the five shares: nothing imported yet, and the token holds exactly the key.
fn count_zero_check(r: &mut Rehearsal<'_>, id: &str, module: &str, ceremony: &Path) -> anyhow::Result<()> {
    r.say(&format!("[{id}] counting zero check: an empty import folder, the token holds exactly the ceremony's key"));
    let imports = r.lab.work.join(format!("{id}-imports"));
    std::fs::create_dir_all(&imports)?;
    let shares: Vec<String> = [2, 4, 5]
        .iter()
        .map(|i| ceremony.join(format!("pin-share-{i}-of-5.json")).to_string_lossy().into_owned())
        .collect();
    r.lab.tally(&[
        "zero-check",
        "--import-dir",
        &imports.to_string_lossy(),
        "--ceremony",
        &ceremony.join("ceremony.json").to_string_lossy(),
        "--module",
        module,
        "--share",
        &shares[0],
        "--share",
        &shares[1],
        "--share",
        &shares[2],
        "--out",
        &r.lab.work.join(format!("{id}-count-zero-check.json")).to_string_lossy(),
    ])?;
    Ok(())
}

/// Writes the election definition with its dates set so that the notice is today (JST): the window opens
/// tomorrow at 08:30 JST (R-VOTE-2), so the zero-vote check can run now, before the open.
fn dated_election(template: &Path, out: &Path) -> anyhow::Result<Election> {
    let today = shared::jst::to_jst(Utc::now()).date_naive();
    let text = std::fs::read_to_string(template)?;
    let dated: String = text
        .lines()
        .map(|l| {
            if l.starts_with("notice_date = ") {
                format!("notice_date = \"{today}\"")
            } else if l.starts_with("election_day = ") {
                format!("election_day = \"{}\"", today + chrono::Days::new(12))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(out, &dated)?;
    let election: Election = toml::from_str(&dated)?;
    election.validate()?;
    Ok(election)
}
