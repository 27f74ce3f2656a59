//! SIGKILL mid-append: every acknowledged record is there, the file opens cleanly.
//!
//! The parent re-runs this test binary filtered to `crash::crash_child` with
//! `WARD_STORE_CRASH_CHILD=<data dir>`; the child appends batches forever and
//! prints `acked <seq>` (flushed) after each `append` returns. The parent kills it
//! at a pseudo-random moment, then checks the store. Three rounds on one data dir,
//! so later rounds also open a file left by a kill.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ward_store::Store;

use crate::support::health_record;

const CHILD_ENV: &str = "WARD_STORE_CRASH_CHILD";
const BATCH_MAX: u64 = 5;

#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let store = Store::open(std::path::Path::new(&dir)).expect("child open");
    let mut seq = store.last_seq().expect("last").map_or(0, |s| s + 1);
    let mut stdout = std::io::stdout().lock();
    // Bounded even if the parent never kills us.
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let batch: Vec<_> = (seq..seq + 1 + seq % BATCH_MAX).map(health_record).collect();
        store.append(&batch).expect("child append");
        seq += batch.len() as u64;
        writeln!(stdout, "acked {}", seq - 1).expect("stdout");
        stdout.flush().expect("flush");
    }
}

#[test]
fn every_acknowledged_record_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(7, |d| d.subsec_nanos() as u64);
    for round in 0..3 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(20 + (seed >> 33) % 200);
        let mut child = Command::new(&exe)
            .args(["crash::crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (first_ack, first_ack_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut last_acked = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("acked ").and_then(|s| s.parse::<u64>().ok()) {
                    if last_acked.is_none() {
                        let _ = first_ack.send(());
                    }
                    last_acked = Some(seq);
                }
            }
            last_acked
        });
        first_ack_rx.recv_timeout(Duration::from_secs(5)).expect("the child acknowledged nothing");
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(status.code().is_none(), "the child must die by the signal, not exit: {status:?}");
        let last_acked = reader.join().expect("reader").expect("some ack");

        let store = Store::open(dir.path()).expect("the store opens cleanly after SIGKILL");
        let journal = store.journal().expect("every stored record reads back");
        let last = journal.last().map(|r| r.seq).expect("records");
        assert!(last >= last_acked, "round {round}: acked {last_acked} but the store ends at {last}");
        assert!(last - last_acked <= BATCH_MAX, "round {round}: more than one unacknowledged batch: {last_acked} vs {last}");
        for (index, record) in journal.iter().enumerate() {
            assert_eq!(record, &health_record(index as u64), "round {round}: record {index}");
        }
        eprintln!("round {round}: killed after {delay:?}, acked {last_acked}, stored {last}");
    }
}
