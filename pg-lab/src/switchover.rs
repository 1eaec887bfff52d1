//! The planned switchover (maintenance of the primary's machine): the primary stops cleanly, the standby is
//! promoted, and the old primary comes back as the new primary's synchronous standby. Commits never stop being
//! synchronous: the new primary waits for `standby1` from its first write, so a commit made while the old primary
//! rejoins returns only once it has rejoined and flushed it (RPO 0 throughout; the writes pause for that time).

use std::process::Stdio;

use anyhow::Context;

use super::process::{append, run, wait_until};
use super::{Lab, PATIENCE, ROLE, STANDBY_NAME};

impl Lab {
    /// The planned switchover of a pair ([`Lab::pair`]): `pg_ctl stop -m fast` on the primary (a clean stop sends
    /// the standby everything, its shutdown checkpoint included), the standby promoted with
    /// `synchronous_standby_names = 'standby1'`, then the old primary restarted as a standby of the new one under
    /// that name (`standby.signal`, `primary_conninfo`; it follows the new timeline). Returns once the new primary
    /// shows it as `sync`.
    pub fn switchover(&mut self) -> anyhow::Result<()> {
        let old = self.primary;
        anyhow::ensure!(
            self.nodes.len() == 2 && self.nodes.iter().all(|n| n.running),
            "a switchover needs a running pair"
        );
        self.stop_cleanly(old)?;
        self.promote(STANDBY_NAME)?;
        let new = self.primary;
        let conninfo =
            format!("host=127.0.0.1 port={} user={ROLE} application_name={STANDBY_NAME}", self.nodes[new].port);
        let data = self.nodes[old].data.clone();
        append(&data.join("postgresql.auto.conf"), &format!("primary_conninfo = '{conninfo}'\n"))?;
        let signal = data.join("standby.signal");
        std::fs::write(&signal, "").with_context(|| format!("cannot write {}", signal.display()))?;
        if let Some(o) = self.owner {
            std::os::unix::fs::chown(&signal, Some(o.uid), Some(o.gid))
                .with_context(|| format!("cannot hand {} to the postgres user", signal.display()))?;
        }
        self.start(old)?;
        wait_until("the old primary to rejoin as the new primary's synchronous standby", || {
            let state = self.standby_state()?;
            Ok((state != "sync").then(|| format!("sync_state {state:?}")))
        })
    }

    /// `pg_ctl stop -m fast` on node `i` (a clean stop: a primary sends its standbys everything first).
    pub(crate) fn stop_cleanly(&mut self, i: usize) -> anyhow::Result<()> {
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl.arg("stop").args(["-m", "fast", "-w", "-t"]).arg(PATIENCE.as_secs().to_string());
        pg_ctl.arg("-D").arg(&self.nodes[i].data).stdin(Stdio::null());
        run(pg_ctl, Some(&self.nodes[i].log))?;
        self.nodes[i].running = false;
        Ok(())
    }

    /// The replication state of the standby named `standby1` as the primary sees it (`sync` when commits wait for
    /// it; empty when no such standby is connected).
    pub fn standby_state(&self) -> anyhow::Result<String> {
        let query = format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'");
        self.psql(self.primary, &query)
    }
}
