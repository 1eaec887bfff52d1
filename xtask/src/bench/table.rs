//! The Performance table in Markdown, one row per figure beside its limit or target, from the report.

use serde_json::Value;

use super::browser;
use super::{
    TARGET_ATTACK_GROWTH_BYTES, TARGET_BALLOTS_PER_S, TARGET_RSS_KIB, TARGET_SHARE_OF_LIMIT, TARGET_SOAK_GROWTH,
    TARGET_TALLY_SHARE, TARGET_UNDER_ATTACK_P99_MS, TARGET_UNDER_ATTACK_PER_S, TARGET_WASM_GZIP_BYTES,
};

/// KiB (as /proc reports memory) to decimal megabytes, the unit of the memory target.
fn mb(kib: f64) -> f64 {
    kib * 1024.0 / 1e6
}

pub(super) fn markdown(r: &Value) -> String {
    let n = |p: &str| r.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let i = |p: &str| r.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let met = |p: &str| if r.pointer(p).and_then(Value::as_bool) == Some(true) { "met" } else { "**not met**" };
    let kb = |bytes: f64| bytes / 1024.0;
    let ballots = n("/cast/load/throughput/accepted_per_s");
    let mut s = String::new();
    s.push_str(&format!(
        "Measured {} on this {}-core machine by `cargo xtask bench` ({} voters × {} contests, release verifier on \
         loopback, {} connections; raw figures in `target/bench/bench.json`).\n\n",
        r["measured_at"].as_str().unwrap_or("?"),
        i("/machine/cores"),
        i("/cast/voters"),
        i("/cast/contests_per_voter"),
        i("/cast/load/concurrency"),
    ));
    s.push_str("| figure | measured | limit or target | ratio | target met? |\n| --- | --- | --- | --- | --- |\n");
    s.push_str(&format!(
        "| cast throughput (ballots accepted/s, {} casts) | {ballots:.0} /s, p50 {:.1} ms, p99 {:.1} ms | target ≥ {TARGET_BALLOTS_PER_S:.0} /s | {:.2} | {} |\n",
        i("/cast/load/throughput/accepted"),
        n("/cast/load/throughput/p50_ms"),
        n("/cast/load/throughput/p99_ms"),
        ballots / TARGET_BALLOTS_PER_S,
        met("/targets/ballots_per_s/met"),
    ));
    s.push_str(&format!(
        "| CPU per accepted ballot in the throughput phase | verifier {:.2} ms ({:.0} % of one core busy), load generator {:.2} ms | {} cores shared by both | | |\n",
        n("/cast/load/throughput/verifier_cpu_ms_per_ballot"),
        100.0 * n("/cast/load/throughput/verifier_cpu_utilisation"),
        n("/cast/load/throughput/load_generator_cpu_ms_per_ballot"),
        i("/machine/cores"),
    ));
    s.push_str(&format!(
        "| RSA-2048 verifies/s (`openssl speed -multi`, all cores) | {:.0} /s | limit | {:.3} | |\n",
        n("/limits/openssl_rsa2048_verify_per_s"),
        ballots / n("/limits/openssl_rsa2048_verify_per_s"),
    ));
    s.push_str(&format!(
        "| SQLite durable commits/s (WAL, `synchronous = FULL`, one row each; higher of before / after the load: {:.0} / {:.0}) | {:.0} /s | limit | {:.3} | |\n",
        n("/cast/sqlite_commits_per_s_before_and_after/0"),
        n("/cast/sqlite_commits_per_s_before_and_after/1"),
        n("/limits/sqlite_durable_commits_per_s"),
        ballots / n("/limits/sqlite_durable_commits_per_s"),
    ));
    s.push_str(&format!(
        "| ballots/s over the smaller limit | {:.1} % | target ≥ {:.0} % | | {} |\n",
        100.0 * n("/limits/ballots_per_s_over_smaller_limit"),
        100.0 * TARGET_SHARE_OF_LIMIT,
        met("/targets/share_of_smaller_limit/met"),
    ));
    s.push_str(&format!(
        "| cast latency at a fixed offered {} ballots/s ({} casts) | reached {:.0} /s, p50 {:.1} ms, p99 {:.1} ms | | | |\n",
        i("/cast/load/fixed_rate/offered_per_s"),
        i("/cast/load/fixed_rate/accepted"),
        n("/cast/load/fixed_rate/accepted_per_s"),
        n("/cast/load/fixed_rate/p50_ms"),
        n("/cast/load/fixed_rate/p99_ms"),
    ));
    s.push_str(&hostile_rows(r));
    s.push_str(&postgres_row(r));
    if !r["tally"].is_null() {
        s.push_str(&format!(
            "| count: {} ballots through SoftHSM2 (`tally count`, {} sessions, {}; totals checked) | {:.0} ballots/s ({:.0} s) | OpenSSL RSA-3072 private operations {:.0} /s (all cores) | {:.2} | target ≥ {:.0} %: {} |\n",
            i("/tally/ballots"),
            i("/tally/threads"),
            r["tally"]["decrypt_path"].as_str().unwrap_or("?"),
            n("/tally/ballots_per_s"),
            n("/tally/seconds"),
            n("/tally/openssl_rsa3072_private_per_s"),
            n("/tally/ratio"),
            100.0 * TARGET_TALLY_SHARE,
            met("/targets/tally_share_of_openssl/met"),
        ));
    }
    s.push_str(&format!(
        "| voter app `.wasm` | {:.0} KB raw, {:.0} KB `gzip -9` | ≤ {} KB gzip | {:.2} | {} |\n",
        kb(n("/wasm/raw_bytes")),
        kb(n("/wasm/gzip9_bytes")),
        TARGET_WASM_GZIP_BYTES / 1024,
        n("/wasm/gzip9_bytes") / TARGET_WASM_GZIP_BYTES as f64,
        met("/targets/wasm_gzip9_bytes/met"),
    ));
    s.push_str(&format!(
        "| verifier memory after the throughput run ({} voters, {} ballots) | peak {:.1} MB (VmHWM), now {:.1} MB (VmRSS) | | | |\n",
        i("/cast/voters"),
        i("/cast/ballots_stored"),
        mb(n("/cast/verifier_memory/vm_hwm_kib")),
        mb(n("/cast/verifier_memory/vm_rss_kib")),
    ));
    if !r["memory_run"].is_null() {
        s.push_str(&format!(
            "| verifier memory at {} voters (all logged in within minutes) and {} ballots; that run's cast rate {:.0} /s, p99 {:.1} ms | peak {:.1} MB (VmHWM), now {:.1} MB (VmRSS) | ≤ 100 MB | {:.2} | {} |\n",
            i("/memory_run/voters"),
            i("/memory_run/ballots_stored"),
            n("/memory_run/load/throughput/accepted_per_s"),
            n("/memory_run/load/throughput/p99_ms"),
            mb(n("/memory_run/verifier_memory/vm_hwm_kib")),
            mb(n("/memory_run/verifier_memory/vm_rss_kib")),
            n("/memory_run/verifier_memory/vm_hwm_kib") / TARGET_RSS_KIB,
            met("/targets/verifier_vm_hwm_kib/met"),
        ));
    }
    if !r["soak"].is_null() {
        s.push_str(&format!(
            "| soak: {:.0} s of logins and casts ({} voters, {} ballots stored), RSS sampled every 10 s | rises while sessions and caches fill, within 95 % of its peak after {:.0} min; over the last third {:.1} MB → {:.1} MB; peak {:.1} MB | flat: ≤ {:.0} % over the last third | {:+.1} % | {} |\n",
            n("/soak/load/seconds"),
            i("/soak/voters"),
            i("/soak/ballots_stored"),
            n("/soak/flatness/warm_up_s") / 60.0,
            mb(n("/soak/flatness/two_thirds_mean_kib")),
            mb(n("/soak/flatness/last_tenth_mean_kib")),
            mb(n("/soak/flatness/max_kib")),
            100.0 * TARGET_SOAK_GROWTH,
            100.0 * n("/soak/flatness/growth_share"),
            met("/targets/soak_rss_flat/met"),
        ));
    }
    s.push_str(&browser::rows(r));
    s
}

/// The row of the voting store on PostgreSQL with its synchronous standby (issue 24); empty without it.
fn postgres_row(r: &Value) -> String {
    if r["postgres"].is_null() {
        return String::new();
    }
    let n = |p: &str| r.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let i = |p: &str| r.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let met = |p: &str| if r.pointer(p).and_then(Value::as_bool) == Some(true) { "met" } else { "**not met**" };
    format!(
        "| cast on the voting store on PostgreSQL {} with a synchronous standby on loopback (`synchronous_commit = {}`; {} front-ends, {} threads, group commit; the store alone, no HTTP) | {:.0} /s ({} casts), p50 {:.1} ms, p99 {:.1} ms | target ≥ {TARGET_BALLOTS_PER_S:.0} /s; limit: {:.0} single-row commits/s on one connection, each waiting for the standby | {:.2} of the limit | ≥ {TARGET_BALLOTS_PER_S:.0} /s and ≥ {:.0} % of the limit: {} |\n",
        r["postgres"]["version"].as_str().unwrap_or("?"),
        r["postgres"]["synchronous_commit"].as_str().unwrap_or("?"),
        i("/postgres/front_ends"),
        i("/postgres/threads"),
        n("/postgres/accepted_per_s"),
        i("/postgres/accepted"),
        n("/postgres/p50_ms"),
        n("/postgres/p99_ms"),
        n("/postgres/commits_per_s"),
        n("/postgres/accepted_per_s_over_commits_per_s"),
        100.0 * TARGET_SHARE_OF_LIMIT,
        met("/targets/postgres/met"),
    )
}

/// The rows of the casts over TLS and under attack (issue 19); empty for a report without them.
fn hostile_rows(r: &Value) -> String {
    let n = |p: &str| r.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let i = |p: &str| r.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let met = |p: &str| if r.pointer(p).and_then(Value::as_bool) == Some(true) { "met" } else { "**not met**" };
    let mut s = String::new();
    if r.get("cast_tls").is_some_and(|v| !v.is_null()) {
        let tls = n("/cast_tls/load/throughput/accepted_per_s");
        s.push_str(&format!(
            "| cast throughput over TLS 1.3 terminated by the verifier, every cast on a new connection (TCP and TLS \
             handshake each; {} casts, {} at a time) | {tls:.0} /s, p50 {:.1} ms, p99 {:.1} ms; at a fixed \
             offered {} /s: p99 {:.1} ms | plain HTTP with kept connections above: {:.0} /s | {:.2} | |\n",
            i("/cast_tls/load/throughput/accepted"),
            i("/cast_tls/load/concurrency"),
            n("/cast_tls/load/throughput/p50_ms"),
            n("/cast_tls/load/throughput/p99_ms"),
            i("/cast_tls/load/fixed_rate/offered_per_s"),
            n("/cast_tls/load/fixed_rate/p99_ms"),
            n("/cast/load/throughput/accepted_per_s"),
            tls / n("/cast/load/throughput/accepted_per_s"),
        ));
    }
    if r.get("cast_under_attack").is_some_and(|v| !v.is_null()) {
        let a = |p: &str| n(&format!("/cast_under_attack/load/attack{p}"));
        let sent = |flood: &str| -> i64 {
            r.pointer(&format!("/cast_under_attack/load/attack/statuses/{flood}"))
                .and_then(Value::as_object)
                .map(|m| m.values().filter_map(Value::as_i64).sum())
                .unwrap_or(0)
        };
        let limited = |flood: &str| i(&format!("/cast_under_attack/load/attack/statuses/{flood}/429"));
        s.push_str(&format!(
            "| legitimate casts while an attack mix runs from 832 addresses in 208 other loopback /24s ({:.0} s): challenges at \
             {:.0} /s ({} sent, {} answered 429), malformed bodies at {:.0} /s ({} sent), failed logins at {:.0} /s \
             ({} sent, {} answered 429), {:.0} slowloris connections held (closed by the verifier after a median \
             {:.1} s) | offered {:.0} /s: reached {:.0} /s, p50 {:.1} ms, p99 {:.1} ms; closed loop {:.0} /s | \
             ≥ {TARGET_UNDER_ATTACK_PER_S:.0} /s with p99 ≤ {TARGET_UNDER_ATTACK_P99_MS:.0} ms | {:.2} of the p99 \
             limit | {} |\n",
            a("/seconds"),
            a("/rates/challenges_per_s"),
            sent("challenge_flood"),
            limited("challenge_flood"),
            a("/rates/malformed_per_s"),
            sent("malformed_bodies"),
            a("/rates/login_failures_per_s"),
            sent("login_failures"),
            limited("login_failures"),
            a("/rates/slowloris_connections"),
            a("/slowloris_held_seconds_median"),
            n("/cast_under_attack/load/fixed_rate/offered_per_s"),
            n("/cast_under_attack/load/fixed_rate/accepted_per_s"),
            n("/cast_under_attack/load/fixed_rate/p50_ms"),
            n("/cast_under_attack/load/fixed_rate/p99_ms"),
            n("/cast_under_attack/load/throughput/accepted_per_s"),
            n("/cast_under_attack/load/fixed_rate/p99_ms") / TARGET_UNDER_ATTACK_P99_MS,
            met("/targets/under_attack/met"),
        ));
        s.push_str(&format!(
            "| database growth from the attack mix alone ({:.0} s, before the legitimate casts) | {:.0} bytes | \
             ≤ 1 MB | {:.4} | {} |\n",
            a("/alone/seconds"),
            a("/alone/database_growth_bytes"),
            a("/alone/database_growth_bytes") / TARGET_ATTACK_GROWTH_BYTES,
            met("/targets/attack_database_growth_bytes/met"),
        ));
    }
    s
}
