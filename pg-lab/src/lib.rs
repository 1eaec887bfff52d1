//! `pg-lab`: throwaway PostgreSQL clusters on loopback, the PostgreSQL analogue of `hsm-lab` (issue 24). Tests,
//! the bench and the failover rehearsal start their own clusters with it and stop them: [`Lab::single`] is one
//! primary; [`Lab::pair`] is a primary and a streaming standby that commits wait for (`synchronous_commit = on`,
//! `synchronous_standby_names = 'standby1'`: a commit returns only once the standby has flushed its WAL, RPO 0).
//! [`Lab::kill_primary`] and [`Lab::promote_standby`] rehearse losing the primary's machine; [`Lab::switchover`]
//! (`switchover.rs`) a planned maintenance of it. [`Lab::single_tls`] (`tls.rs`) demands TLS and a client
//! certificate on TCP.
//!
//! Module map: `lib.rs` (this file) finds the binaries ([`bin_dir`]), makes, starts, kills, promotes and stops
//! the nodes and runs SQL through `psql`; `tests.rs` starts real clusters (replication, failover, clean drop).
//!
//! PostgreSQL refuses to run as root, so when this process is root every server-side command (initdb, pg_ctl,
//! pg_basebackup) runs as the `postgres` system user and the lab's folder is handed to that user; otherwise they
//! run as the caller. `psql` runs as the caller: it connects over TCP to 127.0.0.1 as the role `lab`.
//!
//! What this must never do: hold a real election's data, or listen anywhere but 127.0.0.1. Its clusters trust
//! every local connection without a password, `initdb` and `pg_basebackup` skip their final sync (the servers
//! themselves run with `fsync = on`), and everything is deleted when the [`Lab`] is dropped.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};

mod process;
mod quorum;
mod switchover;
mod tls;
pub use quorum::SECOND_STANDBY;
pub use tls::TlsFiles;
#[cfg(test)]
mod tests;

use process::{Owner, append, free_port, kill9, log_tail, processes_in, refuses, run, server_owner, wait_until};

/// Where Debian installs each PostgreSQL major version (`<N>/bin`).
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The variable that names the folder of PostgreSQL's programs, overriding [`DEBIAN_ROOT`].
pub const BIN_DIR_ENV: &str = "PG_BIN_DIR";

/// The superuser role, and the database, every node has.
pub const ROLE: &str = "lab";

/// The standby's `application_name`, the name the primary's `synchronous_standby_names` waits for.
pub const STANDBY_NAME: &str = "standby1";

/// How long a node may take to start, stop, be promoted, catch up or refuse connections.
const PATIENCE: Duration = Duration::from_secs(30);

/// The folder of PostgreSQL's programs: `PG_BIN_DIR` if set, else the highest `/usr/lib/postgresql/<N>/bin` that
/// has `initdb`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    highest_bin_dir(Path::new(DEBIAN_ROOT)).with_context(|| {
        format!(
            "PostgreSQL is not installed (no {DEBIAN_ROOT}/<version>/bin/initdb, and {BIN_DIR_ENV} is not set); \
             `cargo xtask setup` installs postgresql-15"
        )
    })
}

/// The `<root>/<N>/bin` with `initdb` whose version `N` (`15`, `9.6`) is highest.
fn highest_bin_dir(root: &Path) -> Option<PathBuf> {
    let version = |name: &str| -> Option<(u32, u32)> {
        let (major, minor) = name.split_once('.').unwrap_or((name, "0"));
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    std::fs::read_dir(root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let v = version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .max_by_key(|(v, _)| *v)
        .map(|(_, bin)| bin)
}

/// One PostgreSQL server of a lab.
#[derive(Debug)]
struct Node {
    /// Its name as first made: `primary` or `standby1` (a promoted standby keeps its name).
    name: &'static str,
    /// Its data directory.
    data: PathBuf,
    /// Its server log (`pg_ctl -l`).
    log: PathBuf,
    /// The loopback port it listens on.
    port: u16,
    /// Whether this lab started it and has not killed or stopped it.
    running: bool,
}

/// Throwaway PostgreSQL servers in a temporary folder, each on its own free port of 127.0.0.1 with its Unix
/// sockets inside that folder, the role and database `lab`, trust authentication for 127.0.0.1 (replication
/// included) and `fsync = on`. Node 0 is the first primary; in a pair, node 1 is the standby. Dropping the lab
/// stops every node it still runs (`pg_ctl stop -m immediate`, errors ignored) and deletes the folder.
#[derive(Debug)]
pub struct Lab {
    /// PostgreSQL's programs.
    bin: PathBuf,
    /// The `postgres` user when this process is root.
    owner: Option<Owner>,
    /// The nodes, in the order they were made.
    nodes: Vec<Node>,
    /// Which node is the primary now.
    primary: usize,
    /// The certificates of a lab that demands TLS ([`Lab::single_tls`]).
    tls: Option<tls::TlsFiles>,
    /// The lab's folder; declared last so that it is deleted after `Drop::drop` stopped the nodes.
    dir: tempfile::TempDir,
}

impl Lab {
    /// One primary, started, with the database `lab`.
    pub fn single() -> anyhow::Result<Lab> {
        let mut lab = Lab::empty()?;
        lab.make_primary()?;
        Ok(lab)
    }

    /// A primary and a streaming standby made with `pg_basebackup -R` whose `application_name` is `standby1`;
    /// the primary runs `synchronous_standby_names = 'standby1'` and `synchronous_commit = on`, so a commit
    /// returns only after the standby flushed its WAL (RPO 0; flushed, not yet applied: a read on the standby
    /// right after a commit may still miss it for a moment). Returns once `pg_stat_replication` on the primary
    /// shows the standby as `sync`.
    pub fn pair() -> anyhow::Result<Lab> {
        let mut lab = Lab::empty()?;
        lab.make_primary()?;
        lab.make_standby(STANDBY_NAME)?;
        lab.psql(0, &format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'"))?;
        lab.psql(0, "SELECT pg_reload_conf()")?;
        let query = format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{STANDBY_NAME}'");
        wait_until("the standby to show as sync in pg_stat_replication on the primary", || {
            let state = lab.psql(0, &query)?;
            Ok((state != "sync").then(|| format!("sync_state {state:?}")))
        })
        .map_err(|e| e.context(log_tail(&lab.nodes[1].log)))?;
        Ok(lab)
    }

    /// A lab with its folder (handed to the `postgres` user when this process is root) and no node yet.
    fn empty() -> anyhow::Result<Lab> {
        let bin = bin_dir()?;
        ensure!(
            bin.join("initdb").is_file(),
            "{} has no initdb; `cargo xtask setup` installs postgresql-15 (or set {BIN_DIR_ENV})",
            bin.display()
        );
        let owner = server_owner()?;
        let dir = tempfile::Builder::new().prefix("pg-lab-").tempdir().context("cannot make the lab's folder")?;
        if let Some(o) = owner {
            for ancestor in dir.path().ancestors().skip(1) {
                let meta =
                    std::fs::metadata(ancestor).with_context(|| format!("cannot read {}", ancestor.display()))?;
                ensure!(
                    meta.mode() & 0o001 != 0 || meta.uid() == o.uid,
                    "the postgres user cannot enter {} (the temporary folder's parent); set TMPDIR to a folder \
                     it can reach, such as /tmp",
                    ancestor.display()
                );
            }
            std::os::unix::fs::chown(dir.path(), Some(o.uid), Some(o.gid))
                .with_context(|| format!("cannot hand {} to the postgres user", dir.path().display()))?;
        }
        Ok(Lab { bin, owner, nodes: Vec::new(), primary: 0, tls: None, dir })
    }

    /// A command for one of PostgreSQL's server-side programs: as the `postgres` user when this process is root,
    /// working in the lab's folder (which that user owns).
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(self.dir.path()).env("LC_ALL", "C");
        if let Some(o) = self.owner {
            cmd.uid(o.uid).gid(o.gid);
        }
        cmd
    }

    /// The folder a node keeps its data directory and log in (`<lab>/<name>`).
    fn node_folder(&self, name: &str) -> anyhow::Result<PathBuf> {
        let folder = self.dir.path().join(name);
        std::fs::create_dir(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
        if let Some(o) = self.owner {
            std::os::unix::fs::chown(&folder, Some(o.uid), Some(o.gid))
                .with_context(|| format!("cannot hand {} to the postgres user", folder.display()))?;
        }
        Ok(folder)
    }

    /// Node 0: initdb, the lab's settings and pg_hba.conf, started, the database `lab` created.
    fn make_primary(&mut self) -> anyhow::Result<()> {
        let folder = self.node_folder("primary")?;
        let sockets = self.node_folder("sockets")?;
        let node = Node {
            name: "primary",
            data: folder.join("data"),
            log: folder.join("node.log"),
            port: free_port()?,
            running: false,
        };
        let mut initdb = self.server_command("initdb");
        initdb.arg("-D").arg(&node.data).args(["-U", ROLE, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
        run(initdb, None)?;
        let settings = format!(
            "\n# pg-lab (pg-lab/src/lib.rs): a throwaway cluster on loopback\n\
             listen_addresses = '127.0.0.1'\n\
             port = {}\n\
             unix_socket_directories = '{}'\n\
             fsync = on\n\
             synchronous_commit = on\n\
             shared_buffers = 16MB\n\
             max_connections = 40\n\
             # A standby whose primary is gone looks for WAL again, and so sees a promotion, every 200 ms, not 5 s.\n\
             wal_retrieve_retry_interval = '200ms'\n",
            node.port,
            sockets.display()
        );
        append(&node.data.join("postgresql.conf"), &settings)?;
        let hba = "# pg-lab (pg-lab/src/lib.rs): trust, on loopback only\n\
                   local all         all              trust\n\
                   local replication all              trust\n\
                   host  all         all 127.0.0.1/32 trust\n\
                   host  replication all 127.0.0.1/32 trust\n";
        let hba_file = node.data.join("pg_hba.conf");
        std::fs::write(&hba_file, hba).with_context(|| format!("cannot write {}", hba_file.display()))?;
        self.nodes.push(node);
        self.start(0)?;
        self.psql_in(0, "postgres", &format!("CREATE DATABASE {ROLE}"))?;
        Ok(())
    }

    /// The next node: `pg_basebackup -R` of node 0 under `name` (its `application_name`), on its own port, started.
    fn make_standby(&mut self, name: &'static str) -> anyhow::Result<()> {
        let folder = self.node_folder(name)?;
        let node =
            Node { name, data: folder.join("data"), log: folder.join("node.log"), port: free_port()?, running: false };
        let source = format!("host=127.0.0.1 port={} user={ROLE} application_name={name}", self.nodes[0].port);
        let mut basebackup = self.server_command("pg_basebackup");
        basebackup.arg("-d").arg(&source).arg("-D").arg(&node.data).args(["-R", "-X", "stream", "-c", "fast"]);
        basebackup.arg("--no-sync");
        run(basebackup, Some(&self.nodes[0].log))?;
        let auto = std::fs::read_to_string(node.data.join("postgresql.auto.conf")).unwrap_or_default();
        if !auto.contains(&format!("application_name={name}")) {
            // pg_basebackup -R copies the connection's application_name into primary_conninfo; if a version
            // does not, name the standby here (the last primary_conninfo in the file wins).
            append(&node.data.join("postgresql.auto.conf"), &format!("primary_conninfo = '{source}'\n"))?;
        }
        append(
            &node.data.join("postgresql.conf"),
            &format!("# pg-lab: the standby's own port\nport = {}\n", node.port),
        )?;
        self.nodes.push(node);
        self.start(self.nodes.len() - 1)
    }

    /// `pg_ctl start -w`; if another process took the chosen port in the meantime, again on a new one.
    fn start(&mut self, i: usize) -> anyhow::Result<()> {
        for attempt in 0.. {
            let node = &self.nodes[i];
            let logged = std::fs::metadata(&node.log).map_or(0, |m| m.len());
            let mut pg_ctl = self.server_command("pg_ctl");
            pg_ctl.arg("start").arg("-w").arg("-t").arg(PATIENCE.as_secs().to_string());
            pg_ctl.arg("-D").arg(&node.data).arg("-l").arg(&node.log);
            match run(pg_ctl, Some(&node.log)) {
                Ok(_) => break,
                Err(e) => {
                    let log = std::fs::read(&node.log).unwrap_or_default();
                    let new = String::from_utf8_lossy(log.get(logged as usize..).unwrap_or_default());
                    if attempt >= 2 || !new.contains("could not bind") {
                        return Err(e);
                    }
                }
            }
            let port = free_port()?;
            append(&self.nodes[i].data.join("postgresql.conf"), &format!("port = {port}\n"))?;
            self.nodes[i].port = port;
        }
        self.nodes[i].running = true;
        Ok(())
    }

    /// The number of nodes (1 for [`Lab::single`], 2 for [`Lab::pair`]).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the lab has no node (only while it is being made).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Which node is the primary now: 0, until [`Lab::promote_standby`] makes it 1.
    pub fn primary(&self) -> usize {
        self.primary
    }

    /// The loopback port node `i` listens on.
    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    /// A libpq connection string for clients that names every node, the primary first, and asks for the one
    /// that accepts writes: `host=127.0.0.1,127.0.0.1 port=P1,P2 user=lab dbname=lab
    /// target_session_attrs=read-write connect_timeout=2`.
    pub fn connection_string(&self) -> String {
        let order = std::iter::once(self.primary).chain((0..self.nodes.len()).filter(|&i| i != self.primary));
        let (mut hosts, mut ports) = (Vec::new(), Vec::new());
        for i in order {
            hosts.push("127.0.0.1");
            ports.push(self.nodes[i].port.to_string());
        }
        format!(
            "host={} port={} user={ROLE} dbname={ROLE} target_session_attrs=read-write connect_timeout=2",
            hosts.join(","),
            ports.join(",")
        )
    }

    /// A URL for node `i` alone: `postgresql://lab@127.0.0.1:PORT/lab`.
    pub fn node_url(&self, i: usize) -> String {
        format!("postgresql://{ROLE}@127.0.0.1:{}/{ROLE}", self.nodes[i].port)
    }

    /// The nodes' data directories, in node order (for forensic tests that read the files as an intruder on the
    /// disk would; root can read them).
    pub fn data_dirs(&self) -> Vec<PathBuf> {
        self.nodes.iter().map(|n| n.data.clone()).collect()
    }

    /// The server log of node `i` (`pg_ctl -l`).
    pub fn log(&self, i: usize) -> PathBuf {
        self.nodes[i].log.clone()
    }

    /// Every live process of the lab's servers (postmasters and their children, found by their working
    /// directory, which PostgreSQL sets to the data directory).
    pub fn processes(&self) -> Vec<u32> {
        processes_in(&self.data_dirs())
    }

    /// Freezes node `i`'s processes (SIGSTOP to each), as a machine that stalls or a link that drops: a frozen
    /// standby acknowledges nothing, so the primary's commits wait for it, until [`Lab::thaw`].
    pub fn freeze(&self, i: usize) -> anyhow::Result<()> {
        self.signal(i, "-STOP")
    }

    /// Lets node `i`'s processes run again (SIGCONT).
    pub fn thaw(&self, i: usize) -> anyhow::Result<()> {
        self.signal(i, "-CONT")
    }

    fn signal(&self, i: usize, signal: &str) -> anyhow::Result<()> {
        let pids = processes_in(std::slice::from_ref(&self.nodes[i].data));
        ensure!(!pids.is_empty(), "node {i} ({}) has no running process", self.nodes[i].name);
        let mut kill = Command::new("kill");
        kill.arg(signal).args(pids.iter().map(u32::to_string));
        run(kill, None).map(drop)
    }

    /// Runs `sql` on node `i`'s database `lab` with `psql -X -A -t -v ON_ERROR_STOP=1`; its output, the last
    /// newline trimmed (one row per line, columns separated by `|`).
    pub fn psql(&self, i: usize, sql: &str) -> anyhow::Result<String> {
        self.psql_in(i, ROLE, sql)
    }

    /// Runs `sql` on node `i`'s database `db`.
    fn psql_in(&self, i: usize, db: &str, sql: &str) -> anyhow::Result<String> {
        let node = &self.nodes[i];
        let mut psql = Command::new(self.bin.join("psql"));
        // Through the lab's socket folder (trusted): TCP may demand a client certificate ([`Lab::single_tls`]).
        psql.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h"]).arg(self.dir.path().join("sockets"));
        psql.arg("-p").arg(node.port.to_string()).args(["-U", ROLE, "-d", db, "-c", sql]).env("PGCONNECT_TIMEOUT", "5");
        let out = run(psql, Some(&node.log)).with_context(|| format!("on node {i} ({})", node.name))?;
        Ok(out.strip_suffix('\n').unwrap_or(&out).to_owned())
    }

    /// Loses the primary's machine, as far as PostgreSQL can tell: SIGKILL at once to its postmaster (the pid
    /// from the first line of `postmaster.pid`) and to every child it has (`kill -9`), then waits until its port refuses connections and its
    /// children have gone (they notice their postmaster's death; any left after the wait are killed too). The
    /// files stay as they were, for forensic tests.
    pub fn kill_primary(&mut self) -> anyhow::Result<()> {
        let i = self.primary;
        let node = &self.nodes[i];
        ensure!(node.running, "the primary (node {i}, {}) is not running", node.name);
        let pid_file = node.data.join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).with_context(|| format!("cannot read {}", pid_file.display()))?;
        let pid: u32 = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .with_context(|| format!("{} does not start with a pid: {text:?}", pid_file.display()))?;
        let (port, data) = (node.port, vec![node.data.clone()]);
        // The machine is lost: the postmaster and every child at once (a postmaster killed alone leaves its WAL
        // sender a moment to send what it had, which a lost machine does not).
        // One `kill` for all of them. A child may exit between the scan and the kill ("No such process"), which is
        // no failure; the wait below finds out whether the postmaster died.
        let mut all = Command::new("kill");
        all.arg("-9").arg(pid.to_string()).args(processes_in(&data).iter().filter(|&&p| p != pid).map(u32::to_string));
        let _ = all.stderr(Stdio::null()).status();
        self.nodes[i].running = false;
        wait_until(&format!("port {port} to refuse connections after kill -9 {pid}"), || {
            Ok((!refuses(port)).then(|| "still accepts".to_owned()))
        })?;
        let gone = wait_until("the killed primary's children to exit", || {
            let left = processes_in(&data);
            Ok((!left.is_empty()).then(|| format!("pids {left:?}")))
        });
        if gone.is_err() {
            for pid in processes_in(&data) {
                kill9(pid).ok();
            }
        }
        Ok(())
    }

    /// Makes the standby the primary once the primary is down ([`Lab::kill_primary`]): `pg_ctl promote -w`, then
    /// `ALTER SYSTEM SET synchronous_standby_names = ''` and `pg_reload_conf()` on it, and waits until
    /// `pg_is_in_recovery()` is false and the setting is empty. The pair has no second standby, so from here
    /// until a new standby joins, commits are no longer synchronous: a commit returns once it is on this one
    /// machine's disk, and losing that machine loses it (RPO > 0). Refuses while the old primary still runs
    /// (two nodes would accept writes).
    pub fn promote_standby(&mut self) -> anyhow::Result<()> {
        self.promote("")
    }

    /// Promotes the running standby (the primary must be down) and sets its `synchronous_standby_names` to
    /// `names` (empty: commits no longer wait for a standby).
    fn promote(&mut self, names: &str) -> anyhow::Result<()> {
        let old = self.primary;
        let new = (0..self.nodes.len())
            .find(|&i| i != old && self.nodes[i].running)
            .context("there is no running standby to promote")?;
        self.promote_node(new, names)
    }

    /// Promotes node `new` (a running standby; the primary must be down) and sets its `synchronous_standby_names`.
    fn promote_node(&mut self, new: usize, names: &str) -> anyhow::Result<()> {
        let old = self.primary;
        ensure!(!self.nodes[old].running, "the primary (node {old}) still runs; kill it first (kill_primary)");
        ensure!(new != old && self.nodes[new].running, "node {new} is not a running standby");
        let node = &self.nodes[new];
        let mut pg_ctl = self.server_command("pg_ctl");
        pg_ctl.arg("promote").arg("-w").arg("-t").arg(PATIENCE.as_secs().to_string()).arg("-D").arg(&node.data);
        run(pg_ctl, Some(&node.log))?;
        self.psql(new, &format!("ALTER SYSTEM SET synchronous_standby_names = '{names}'"))?;
        self.psql(new, "SELECT pg_reload_conf()")?;
        let query = "SELECT pg_is_in_recovery()::text || ',' || current_setting('synchronous_standby_names')";
        wait_until("the promoted standby to leave recovery with its synchronous_standby_names", || {
            let state = self.psql(new, query)?;
            Ok((state != format!("false,{names}")).then(|| format!("in recovery, names: {state:?}")))
        })?;
        self.primary = new;
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for node in self.nodes.iter().filter(|n| n.running) {
            let mut pg_ctl = self.server_command("pg_ctl");
            pg_ctl.arg("stop").args(["-m", "immediate", "-w", "-t"]).arg(PATIENCE.as_secs().to_string());
            pg_ctl.arg("-D").arg(&node.data).stdout(Stdio::null()).stderr(Stdio::null());
            let _ = pg_ctl.stdin(Stdio::null()).status();
        }
        // Anything left (a stop that failed) is killed, so that no server outlives its deleted folder.
        for pid in self.processes() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).stderr(Stdio::null()).status();
        }
    }
}
