//! Casts from threads straight into front-ends' voting stores on PostgreSQL, for the tests that lose machines
//! under load (`voting_store.rs`, `third_node.rs`): every receipt kept with when it came, every refusal kept.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use verifier::store::pg::PgStore;

/// A ciphertext-sized value unique to (t, v), as the box sees a ballot (it never decrypts).
pub fn ct(t: usize, v: usize) -> Vec<u8> {
    let mut c = vec![0u8; 384];
    c[..16].copy_from_slice(&[(t as u64).to_be_bytes(), (v as u64).to_be_bytes()].concat());
    c
}

/// One receipt given, with when.
pub struct Given {
    /// When the receipt came.
    pub at: Instant,
    /// The tracker (hex).
    pub tracker: String,
}

/// Threads casting in election `e`, contest `tokyo`, each as new voters one after another, until stopped.
pub struct Casting {
    stop: Arc<AtomicBool>,
    receipts: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<(Vec<Given>, Vec<String>)>>,
}

impl Casting {
    /// Starts `threads` threads, thread `t` casting through `fronts[t % fronts.len()]`.
    pub fn start(fronts: &[Arc<PgStore>], threads: usize) -> Casting {
        let (stop, receipts) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let threads = (0..threads)
            .map(|t| {
                let front = Arc::clone(&fronts[t % fronts.len()]);
                let (stop, receipts) = (Arc::clone(&stop), Arc::clone(&receipts));
                std::thread::spawn(move || {
                    let (mut given, mut refused) = (Vec::new(), Vec::new());
                    for v in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match front.cast(&format!("t{t}v{v}"), None, "e", "tokyo", &ct(t, v)) {
                            Ok(tracker) => {
                                given.push(Given { at: Instant::now(), tracker });
                                receipts.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => refused.push(e.to_string()),
                        }
                    }
                    (given, refused)
                })
            })
            .collect();
        Casting { stop, receipts, threads }
    }

    /// Waits until `n` more receipts than now were given, however slow this machine is today (60 s at most).
    pub fn more(&self, n: usize) {
        let (from, since) = (self.receipts.load(Ordering::Relaxed), Instant::now());
        while self.receipts.load(Ordering::Relaxed) < from + n && since.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the threads: every receipt given and every refusal.
    pub fn stop(self) -> (Vec<Given>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut given, mut refused) = (Vec::new(), Vec::new());
        for t in self.threads {
            let (g, r) = t.join().unwrap();
            given.extend(g);
            refused.extend(r);
        }
        (given, refused)
    }
}

/// Seals election `e` at every front-end (their held batches enter the box); the trackers in the box and the
/// copies dropped per contest.
pub fn sealed_box(fronts: &[Arc<PgStore>]) -> (HashSet<String>, Vec<(String, i64)>) {
    for f in fronts {
        f.seal("e").unwrap();
    }
    let (trackers, dropped) = fronts[0].box_contents("e").unwrap();
    (trackers.iter().map(hex::encode).collect(), dropped)
}
