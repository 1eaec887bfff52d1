//! Three nodes, so that commits stay synchronous after a machine is lost (issue 24): a primary and two standbys,
//! the primary waiting for ANY 1 of them. After the primary's loss the standby that received the most WAL is
//! promoted (every receipted commit is on at least one standby, and so on that one: promoting the other could lose
//! receipted commits) and waits from its first write for the remaining standby, which is restarted to follow it.

use anyhow::{Context, ensure};

use super::process::{append, run, wait_until};
use super::{Lab, PATIENCE, ROLE, STANDBY_NAME};

/// The second standby's name (`application_name`) in a [`Lab::trio`].
pub const SECOND_STANDBY: &str = "standby2";

/// `synchronous_standby_names` waiting for any one of `names` (empty: for none).
fn any_one(names: &[&str]) -> String {
    if names.is_empty() { String::new() } else { format!("ANY 1 ({})", names.join(", ")) }
}

impl Lab {
    /// A primary and two streaming standbys, `standby1` and `standby2`, the primary running
    /// `synchronous_standby_names = 'ANY 1 (standby1, standby2)'`: a commit returns once either has flushed it.
    /// Returns once both show as `quorum` in `pg_stat_replication`.
    pub fn trio() -> anyhow::Result<Lab> {
        let mut lab = Lab::empty()?;
        lab.make_primary()?;
        lab.make_standby(STANDBY_NAME)?;
        lab.make_standby(SECOND_STANDBY)?;
        let names = any_one(&[STANDBY_NAME, SECOND_STANDBY]);
        lab.psql(0, &format!("ALTER SYSTEM SET synchronous_standby_names = '{names}'"))?;
        lab.psql(0, "SELECT pg_reload_conf()")?;
        lab.wait_for_quorum(0, 2)?;
        Ok(lab)
    }

    /// After the primary's loss ([`Lab::kill_primary`]): promotes the running standby that received the most WAL,
    /// waiting for ANY 1 of the other running standbys, and restarts those to follow it; returns the promoted node.
    /// With no other standby left, the promoted node commits alone (RPO > 0 until one joins).
    pub fn promote_most_advanced(&mut self) -> anyhow::Result<usize> {
        let old = self.primary;
        let standbys: Vec<usize> = (0..self.nodes.len()).filter(|&i| i != old && self.nodes[i].running).collect();
        let mut received = Vec::new();
        for &i in &standbys {
            // What it received, or replayed if its receiver has not run since a restart (then the other is NULL).
            let sql = "SELECT (GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) - '0/0')::bigint";
            let lsn = self.psql(i, sql)?;
            received.push((lsn.parse::<i64>().with_context(|| format!("node {i}'s received WAL: {lsn:?}"))?, i));
        }
        let &(_, new) = received.iter().max().context("there is no running standby to promote")?;
        let others: Vec<usize> = standbys.iter().copied().filter(|&i| i != new).collect();
        let names: Vec<&str> = others.iter().map(|&i| self.nodes[i].name).collect();
        self.promote_node(new, &any_one(&names))?;
        for &i in &others {
            self.follow(i, new)?;
        }
        self.wait_for_quorum(new, others.len())?;
        Ok(new)
    }

    /// Stops standby `i` cleanly (a standby's machine down for a while: it receives nothing meanwhile).
    pub fn stop_standby(&mut self, i: usize) -> anyhow::Result<()> {
        ensure!(i != self.primary && self.nodes[i].running, "node {i} is not a running standby");
        self.stop_cleanly(i)
    }

    /// Starts a stopped standby again.
    pub fn start_standby(&mut self, i: usize) -> anyhow::Result<()> {
        ensure!(i != self.primary && !self.nodes[i].running, "node {i} is not a stopped standby");
        self.start(i)
    }

    /// Restarts standby `i` to stream from node `primary` (it follows the promoted node's new timeline).
    fn follow(&mut self, i: usize, primary: usize) -> anyhow::Result<()> {
        let (name, port) = (self.nodes[i].name, self.nodes[primary].port);
        let conninfo = format!("host=127.0.0.1 port={port} user={ROLE} application_name={name}");
        append(&self.nodes[i].data.join("postgresql.auto.conf"), &format!("primary_conninfo = '{conninfo}'\n"))?;
        let node = &self.nodes[i];
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl.arg("restart").args(["-m", "fast", "-w", "-t"]).arg(PATIENCE.as_secs().to_string());
        pg_ctl.arg("-D").arg(&node.data).arg("-l").arg(&node.log);
        run(pg_ctl, Some(&node.log)).map(|_| ())
    }

    /// Waits until at least one commit on the primary is waiting for a standby's flush (`wait_event = 'SyncRep'`,
    /// e.g. after [`Lab::freeze`] of the standby under load); returns how many. A test that kills the primary then
    /// knows it cut such a commit off, however slow the machine is today.
    pub fn wait_for_waiting_commits(&self) -> anyhow::Result<usize> {
        let query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'";
        let mut waiting = 0;
        wait_until("a commit waiting for the standby", || {
            waiting = self.psql(self.primary, query)?.parse().unwrap_or(0);
            Ok((waiting == 0).then(|| "none yet".to_owned()))
        })?;
        Ok(waiting)
    }

    /// Waits until node `primary` shows `n` standbys as `quorum`.
    fn wait_for_quorum(&self, primary: usize, n: usize) -> anyhow::Result<()> {
        ensure!(n <= self.nodes.len(), "more standbys asked for than nodes");
        let query = "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'quorum'";
        wait_until(&format!("{n} standbys to show as quorum on node {primary}"), || {
            let got = self.psql(primary, query)?;
            Ok((got != n.to_string()).then(|| format!("{got} in quorum")))
        })
    }
}
