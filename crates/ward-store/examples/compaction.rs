//! Store size and recovery time after many journal records, with and without
//! checkpoints. `bash bench/compaction.sh` runs both and prints a table.
//!
//! `cargo run --release -p ward-store --example compaction -- RECORDS checkpoints|none`
//!
//! An engine takes operator holds and releases (one journal record each), the
//! daemon's way: records appended in batches (one fsync each), checkpoints saved
//! after the records before them. Then the store is reopened and the controller
//! recovered as `ward run` does, timed.

use std::sync::Arc;
use std::time::Instant;

use ward_core::engine::{Command, Engine, HoldTarget, Output};
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind};
use ward_core::journal::JournalRecord;
use ward_core::Mode;
use ward_store::Store;

/// Records per append (one fsync each), as a busy daemon batches a drain.
const BATCH_RECORDS: usize = 1_000;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let records: u64 = args.get(1).map_or(Ok(1_000_000), |a| a.parse()).map_err(|e| format!("RECORDS: {e}"))?;
    let checkpoints = match args.get(2).map(String::as_str) {
        None | Some("checkpoints") => true,
        Some("none") => false,
        Some(other) => return Err(format!("`{other}`: expected checkpoints or none")),
    };
    let mut b = InventoryBuilder::new();
    let site = b.site("dc1");
    b.observer("obs-a", site);
    let lbs: Vec<_> = ["lb1", "lb2"].iter().map(|n| b.node(n, site, &[])).collect();
    b.check("http", CheckKind::Http, &lbs, 2, 3);
    b.service("vip", ServiceKind::Vip, "edge", &lbs, &lbs[..1]);
    let snapshot = Arc::new(b.build());

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = Store::open(dir.path()).map_err(|e| e.to_string())?;
    let mut engine = Engine::new(snapshot.clone(), Mode::Guarded, 0);
    if !checkpoints {
        engine.set_checkpoint_every(u64::MAX);
    }
    let target = HoldTarget::Node("lb2".into());
    let mut batch: Vec<JournalRecord> = Vec::with_capacity(BATCH_RECORDS);
    let mut written = 0u64;
    let mut now_ms = 0;
    while written < records {
        now_ms += 1;
        let command = if now_ms % 2 == 1 {
            Command::Hold { target: target.clone(), author: "bench".into(), reason: "maintenance window".into(), until_ms: None }
        } else {
            Command::Release { target: target.clone(), author: "bench".into() }
        };
        engine.command(now_ms, command)?;
        while let Some(output) = engine.poll_output() {
            match output {
                Output::Journal(record) => {
                    batch.push(record);
                    written += 1;
                    if batch.len() >= BATCH_RECORDS {
                        store.append(&batch).map_err(|e| e.to_string())?;
                        batch.clear();
                    }
                }
                Output::Checkpoint(checkpoint) => {
                    store.append(&batch).map_err(|e| e.to_string())?;
                    batch.clear();
                    store.save_checkpoint(&checkpoint).map_err(|e| e.to_string())?;
                }
                Output::StartJob(_) | Output::Notify(_) => {}
            }
        }
    }
    store.append(&batch).map_err(|e| e.to_string())?;
    drop(store);
    let bytes = std::fs::metadata(dir.path().join(ward_store::DB_FILE)).map_err(|e| e.to_string())?.len();

    let started = Instant::now();
    let store = Store::open(dir.path()).map_err(|e| e.to_string())?;
    let checkpoint = store.latest_checkpoint().map_err(|e| e.to_string())?;
    let journal = match &checkpoint {
        Some(c) => store.journal_from(c.seq, usize::MAX),
        None => store.journal(),
    }
    .map_err(|e| e.to_string())?;
    let recovered = Engine::recover_from(snapshot, Mode::Guarded, checkpoint.as_ref(), &journal, now_ms + 1);
    let recovery = started.elapsed();
    println!(
        "| {} | {} | {:.1} MiB | {} | {:.3} s |",
        if checkpoints { "checkpoints" } else { "none" },
        written,
        bytes as f64 / (1024.0 * 1024.0),
        journal.len(),
        recovery.as_secs_f64()
    );
    drop(recovered);
    Ok(())
}
