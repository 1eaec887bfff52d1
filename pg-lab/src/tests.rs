//! Real clusters: a committed row reaches the synchronous standby, survives the primary's death and promotion,
//! a planned switchover and back loses nothing and stays synchronous, and dropping a lab leaves no server running.

use super::*;
use std::time::Instant;

/// Polls `sql` on `node` until it answers `want` (a commit under `synchronous_commit = on` waits for the
/// standby to flush the WAL, not to apply it, so a read on the standby may lag for a moment).
fn eventually(lab: &Lab, node: usize, sql: &str, want: &str) {
    let start = Instant::now();
    loop {
        let got = lab.psql(node, sql);
        if got.as_deref().ok() == Some(want) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "node {node} answers {got:?} to {sql}, not {want:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `sql` through `psql "<conninfo>"`, as a client given the lab's connection string would.
fn psql_conninfo(conninfo: &str, sql: &str) -> String {
    let out = Command::new(bin_dir().unwrap().join("psql"))
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(conninfo)
        .args(["-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql {conninfo:?} -c {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

/// Whether `pid` is gone (or a zombie nobody reaped: it runs nothing).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_row_committed_on_the_primary_is_on_the_synchronous_standby() {
    let lab = Lab::pair().unwrap();
    assert_eq!((lab.len(), lab.primary()), (2, 0));
    assert_eq!(lab.psql(0, "SELECT pg_is_in_recovery()").unwrap(), "f");
    assert_eq!(lab.psql(1, "SELECT pg_is_in_recovery()").unwrap(), "t");
    let replication = "SELECT application_name || ',' || sync_state FROM pg_stat_replication";
    assert_eq!(lab.psql(0, replication).unwrap(), format!("{STANDBY_NAME},sync"));
    for (setting, want) in [
        ("synchronous_standby_names", STANDBY_NAME),
        ("synchronous_commit", "on"),
        ("fsync", "on"),
        ("listen_addresses", "127.0.0.1"),
    ] {
        assert_eq!(lab.psql(0, &format!("SHOW {setting}")).unwrap(), want, "{setting}");
    }
    lab.psql(0, "CREATE TABLE ballots (id int PRIMARY KEY, body text)").unwrap();
    lab.psql(0, "INSERT INTO ballots VALUES (1, 'sealed')").unwrap();
    eventually(&lab, 1, "SELECT body FROM ballots WHERE id = 1", "sealed");
    // A standby takes no writes; the error names the command, its stderr and the server log's tail.
    let err = format!("{:#}", lab.psql(1, "INSERT INTO ballots VALUES (2, 'x')").unwrap_err());
    assert!(err.contains("psql -X") && err.contains("read-only transaction"), "{err}");
    assert!(err.contains("standby1/node.log ---"), "{err}");
    assert_eq!(lab.data_dirs().len(), 2);
    assert!(lab.data_dirs().iter().all(|d| d.join("PG_VERSION").is_file()));
}

#[test]
fn after_the_primary_dies_the_promoted_standby_has_the_row_and_takes_writes() {
    let mut lab = Lab::pair().unwrap();
    let conninfo = lab.connection_string();
    assert_eq!(
        conninfo,
        format!(
            "host=127.0.0.1,127.0.0.1 port={},{} user=lab dbname=lab target_session_attrs=read-write \
             connect_timeout=2",
            lab.port(0),
            lab.port(1)
        )
    );
    assert_eq!(psql_conninfo(&conninfo, "SELECT inet_server_port()"), lab.port(0).to_string());
    lab.psql(0, "CREATE TABLE ballots (id int PRIMARY KEY, body text)").unwrap();
    lab.psql(0, "INSERT INTO ballots VALUES (1, 'sealed')").unwrap();

    lab.kill_primary().unwrap();
    assert!(refuses(lab.port(0)));
    assert!(lab.psql(0, "SELECT 1").is_err());
    assert!(lab.promote_standby().is_ok());
    assert_eq!(lab.primary(), 1);

    assert_eq!(lab.psql(1, "SELECT body FROM ballots WHERE id = 1").unwrap(), "sealed");
    assert_eq!(lab.psql(1, "SHOW synchronous_standby_names").unwrap(), "");
    lab.psql(1, "INSERT INTO ballots VALUES (2, 'after failover')").unwrap();
    // The old connection string still names the dead node first; libpq skips it for the one that takes writes.
    assert_eq!(psql_conninfo(&conninfo, "SELECT inet_server_port()"), lab.port(1).to_string());
    assert_eq!(psql_conninfo(&conninfo, "INSERT INTO ballots VALUES (3, 'via conninfo') RETURNING id"), "3");
    assert!(lab.connection_string().contains(&format!("port={},{}", lab.port(1), lab.port(0))));
    assert_eq!(lab.psql(1, "SELECT count(*) FROM ballots").unwrap(), "3");
}

#[test]
fn dropping_a_lab_stops_its_servers_and_deletes_its_folder() {
    let single = Lab::single().unwrap();
    assert_eq!(
        single.connection_string().split_whitespace().take(2).collect::<Vec<_>>(),
        ["host=127.0.0.1".to_owned(), format!("port={}", single.port(0))]
    );
    assert_eq!(psql_conninfo(&single.connection_string(), "SELECT current_user"), "lab");
    assert_eq!(single.node_url(0), format!("postgresql://lab@127.0.0.1:{}/lab", single.port(0)));
    assert_eq!(psql_conninfo(&single.node_url(0), "SELECT current_database()"), "lab");
    let pair = Lab::pair().unwrap();
    for lab in [single, pair] {
        let (ports, pids, dirs) =
            ((0..lab.len()).map(|i| lab.port(i)).collect::<Vec<_>>(), lab.processes(), lab.data_dirs());
        assert!(pids.len() >= lab.len(), "{pids:?}");
        drop(lab);
        assert!(ports.iter().all(|&p| refuses(p)), "{ports:?}");
        assert!(pids.iter().all(|&p| dead(p)), "{pids:?}");
        assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
    }
}

#[test]
fn the_highest_installed_version_is_chosen() {
    let root = tempfile::tempdir().unwrap();
    for (version, has_initdb) in [("9.6", true), ("15", true), ("16", false), ("notes", true)] {
        let bin = root.path().join(version).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        if has_initdb {
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
    }
    assert_eq!(highest_bin_dir(root.path()), Some(root.path().join("15/bin")));
    assert_eq!(highest_bin_dir(&root.path().join("missing")), None);
}

#[test]
fn a_planned_switchover_and_back_keeps_every_row_and_stays_synchronous() {
    let mut lab = Lab::pair().unwrap();
    let conninfo = lab.connection_string();
    psql_conninfo(&conninfo, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
    lab.switchover().unwrap();
    assert_eq!(lab.primary(), 1);
    assert_eq!(lab.standby_state().unwrap(), "sync", "the old primary is the new one's synchronous standby");
    psql_conninfo(&conninfo, "INSERT INTO t VALUES (2)");
    eventually(&lab, 0, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t", "1,2");
    lab.switchover().unwrap();
    assert_eq!(lab.primary(), 0, "and back, once the machine's maintenance is done");
    psql_conninfo(&conninfo, "INSERT INTO t VALUES (3)");
    assert_eq!(psql_conninfo(&conninfo, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t"), "1,2,3");
    assert_eq!(lab.standby_state().unwrap(), "sync");
}

#[test]
fn a_tls_lab_refuses_plain_tcp_and_takes_its_client_certificate() {
    let lab = Lab::single_tls().unwrap();
    let files = lab.tls_files().unwrap();
    let base = format!("host=127.0.0.1 port={} user={ROLE} dbname={ROLE}", lab.port(0));
    let plain = Command::new(bin_dir().unwrap().join("psql"))
        .args(["-X", "-A", "-t", "-c", "SELECT 1"])
        .arg(format!("{base} sslmode=disable"))
        .output()
        .unwrap();
    assert!(!plain.status.success(), "a plain TCP connection was taken");
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("rejects connection"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let tls = format!(
        "{base} sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        files.ca.display(),
        files.client_cert.display(),
        files.client_key.display()
    );
    assert_eq!(psql_conninfo(&tls, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "true");
}

#[test]
fn a_trio_survives_two_machines_lost_with_every_committed_row() {
    let mut lab = Lab::trio().unwrap();
    let conninfo = lab.connection_string();
    psql_conninfo(&conninfo, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
    // standby2's machine is down: the next commit is on standby1 alone, which ANY 1 accepts.
    lab.stop_standby(2).unwrap();
    psql_conninfo(&conninfo, "INSERT INTO t VALUES (2)");
    lab.kill_primary().unwrap();
    lab.start_standby(2).unwrap();
    assert_eq!(lab.promote_most_advanced().unwrap(), 1, "standby1 received the most");
    psql_conninfo(&conninfo, "INSERT INTO t VALUES (3)");
    eventually(&lab, 2, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t", "1,2,3");
    lab.kill_primary().unwrap();
    assert_eq!(lab.promote_most_advanced().unwrap(), 2);
    assert_eq!(psql_conninfo(&conninfo, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t"), "1,2,3");
}
