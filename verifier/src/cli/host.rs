//! The named operator behind a command on this host (R-SEC-4, issue 21): `login`, `logout`, the four-eyes
//! `requests` and `approve`, and the critical actions `pause` and `resume`, which another person must approve.

use std::path::Path;

use clap::Args;
use shared::crypto::ElectionPublicKey;

use super::election::parse_election;
use super::{DbArg, checkpoint, election_in, guard_clock};
use crate::clock::Clock;
use crate::demo;
use crate::operators::four_eyes::{self, Action};
use crate::operators::host::Credentials;
use crate::operators::{Operator, Role};
use crate::store::Db;

/// `verifier login`'s options.
#[derive(Args)]
pub(super) struct LoginArgs {
    #[command(flatten)]
    db: DbArg,
    /// The 6-digit code your authenticator app shows now (each code works once).
    #[arg(long, env = "VERIFIER_OPERATOR_TOTP")]
    totp: String,
}

/// `verifier approve`'s options.
#[derive(Args)]
pub(super) struct ApproveArgs {
    #[command(flatten)]
    db: DbArg,
    /// The request's id (from `verifier requests`).
    id: String,
}

/// `verifier pause`'s options.
#[derive(Args)]
pub(super) struct PauseArgs {
    #[command(flatten)]
    db: DbArg,
    /// Why (shown to voters), e.g. "候補者の異動のため / candidate change".
    #[arg(long)]
    reason: String,
}

/// Logs the operator in on this host for 8 hours.
pub(super) fn login(args: LoginArgs, host: &Host) -> anyhow::Result<()> {
    let LoginArgs { db: arg, totp } = args;
    let db = arg.open()?;
    let (op, until) = crate::operators::host::login(&db, &host.credentials, &totp, Clock::SYSTEM.now())?;
    println!("logged in on this host as {} until {}", op.actor(), shared::jst::format_jst(until));
    Ok(())
}

/// Ends the operator's host session.
pub(super) fn logout(arg: &DbArg, host: &Host) -> anyhow::Result<()> {
    let op = crate::operators::host::logout(&arg.open()?, &host.credentials, Clock::SYSTEM.now())?;
    println!("{} logged out on this host", op.actor());
    Ok(())
}

/// Lists the four-eyes requests waiting for approval.
pub(super) fn requests(arg: &DbArg, host: &Host) -> anyhow::Result<()> {
    let db = arg.open()?;
    host.operator(&db, &[Role::Admin, Role::CountingOfficer, Role::Auditor], "requests")?;
    for r in four_eyes::pending(&db, Clock::SYSTEM.now())? {
        println!(
            "{}  {}  (asked by {} at {}, until {})",
            r.id, r.summary, r.requested_by, r.requested_at, r.expires_at
        );
    }
    Ok(())
}

/// Approves another operator's request and carries it out under both names.
pub(super) fn approve(args: ApproveArgs, host: &Host) -> anyhow::Result<()> {
    let ApproveArgs { db: arg, id } = args;
    let db = arg.open()?;
    let op = crate::operators::host::authenticate(&db, &host.credentials, Clock::SYSTEM.now())?;
    let request = four_eyes::approve(&db, &op, &id, false, Clock::SYSTEM.now())?;
    println!("approved request {}: {} (asked by {})", request.id, request.summary, request.requested_by);
    let actor = request.actor(&op);
    host.carry_out(&db, &arg, &request.action, &actor).inspect_err(|e| {
        let _ = four_eyes::failed(&db, &op, &request.id, &format!("{e:#}"), Clock::SYSTEM.now());
    })
}

/// Asks for a pause with the reason voters will see.
pub(super) fn pause(args: PauseArgs, host: &Host) -> anyhow::Result<()> {
    let PauseArgs { db: arg, reason } = args;
    anyhow::ensure!(!reason.trim().is_empty(), "give the reason voters will see");
    host.ask(&arg, Action::Pause { reason })
}

/// This host's command line: its clock and the operator's credentials (R-SEC-4, issue 21).
pub(super) struct Host {
    pub(super) clock: Clock,
    pub(super) credentials: Credentials,
}

impl Host {
    /// The named operator running this command, refused (and audited) when their role may not.
    pub(super) fn operator(&self, db: &Db, roles: &[Role], command: &str) -> anyhow::Result<Operator> {
        crate::operators::host::require(db, &self.credentials, roles, command, Clock::SYSTEM.now())
    }

    /// Records a critical action as a four-eyes request; another operator's `verifier approve` carries it out.
    pub(super) fn ask(&self, arg: &DbArg, action: Action) -> anyhow::Result<()> {
        let db = arg.open()?;
        let op = self.operator(&db, action.requesters(), action.name())?;
        if let Action::Pause { .. } | Action::Resume = action {
            let (election, _) = election_in(&db, &arg.db)?;
            guard_clock(self.clock, &election, &db, action.name(), &op.actor())?;
        }
        let approvers: Vec<&str> = action.approvers().iter().map(|r| crate::operators::auth::role_str(*r)).collect();
        let request = four_eyes::request(&db, &op, action, Clock::SYSTEM.now())?;
        println!("four-eyes request {}: {}", request.id, request.summary);
        println!(
            "nothing is done until another person ({}) approves it on this host within {} minutes: verifier approve {}",
            approvers.join(" or "),
            four_eyes::REQUEST_MINUTES,
            request.id
        );
        Ok(())
    }

    /// Carries out an approved request under both names, then signs a checkpoint of the log.
    pub(super) fn carry_out(&self, db: &Db, arg: &DbArg, action: &Action, actor: &str) -> anyhow::Result<()> {
        use crate::operators::auth::{self as auth, OperatorCa};
        let clock = self.clock;
        match action {
            Action::ElectionCreate { election_toml, public_key_pem, redate_for_demo } => {
                let mut election = parse_election(election_toml)?;
                if *redate_for_demo {
                    election = demo::redated(election, clock.now())?;
                }
                let key = ElectionPublicKey::from_pem(public_key_pem)?;
                guard_clock(clock, &election, db, "election create", actor)?;
                db.create_election(&election, &key, actor, clock.now())?;
                println!(
                    "election {} created in {}; key fingerprint {}",
                    election.id,
                    arg.db.display(),
                    key.fingerprint()
                );
            }
            Action::Pause { reason } => {
                let (election, _) = election_in(db, &arg.db)?;
                guard_clock(clock, &election, db, "pause", actor)?;
                db.set_pause(Some(reason), actor, clock.now())?;
                println!("voting paused: {reason}");
            }
            Action::Resume => {
                let (election, _) = election_in(db, &arg.db)?;
                guard_clock(clock, &election, db, "resume", actor)?;
                db.set_pause(None, actor, clock.now())?;
                println!("voting resumed");
            }
            Action::Export { district, export_key, out } => {
                let (election, key) = election_in(db, &arg.db)?;
                let export_key = crate::ops::ExportKey::load(Path::new(export_key))?;
                guard_clock(clock, &election, db, "export", actor)?;
                let file = crate::ops::export(db, &election, &key, &export_key, district, actor, clock.now())?;
                let out = Path::new(out);
                // Whole or not at all, under the final name (`files`): a stop mid-write leaves no half export.
                files::replace(out, &serde_json::to_vec(&file)?, files::Access::Owner)?;
                // The definition in force at the close (withdrawals included): the manifest pins its digest, and
                // the counting tool counts only under it (R-VOTE-3).
                let definition = out.with_extension("election.json");
                files::replace(&definition, &serde_json::to_vec_pretty(&election)?, files::Access::Everyone)?;
                println!(
                    "exported district {district} to {}, and the definition in force to {}: {}",
                    out.display(),
                    definition.display(),
                    file.manifest
                );
            }
            Action::OperatorIssue { ca, name, role, municipality, out } => {
                let ca = OperatorCa::open(Path::new(ca))?;
                let out = Path::new(out);
                println!("{}", auth::issue_to_files(&ca, db, name, *role, municipality.as_deref(), out, actor)?);
            }
            Action::OperatorRevoke { ca, serial } => {
                let ca = OperatorCa::open(Path::new(ca))?;
                println!("{}", auth::revoke_everywhere(&ca, db, serial, actor, Clock::SYSTEM.now())?);
            }
        }
        checkpoint(db, arg, clock, action.name())
    }
}
