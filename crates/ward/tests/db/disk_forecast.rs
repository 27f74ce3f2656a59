//! Seed 003: WAL piled up until the disk filled, and nobody heard until it was full.
//! A real filesystem (a small tmpfs) fills at a steady synthetic rate; Ward's disk
//! probe reads it with statvfs and must warn with a time-until-full forecast long
//! before it is full, and must not warn about a disk that is not growing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Env, Ward};

/// A tmpfs mounted for the test, unmounted on drop (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: PathBuf, size_mib: u32) -> Tmpfs {
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs at {} failed: these tests run as root (scripts/test-db.sh)", path.display());
        Tmpfs(path)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn inventory(filling: &Path, steady: &Path) -> String {
    format!(
        r#"
[policy]
tick = "200ms"
stale_after = "30s"
quorum = 1
disk_warn_horizon = "6h"
notify = ["log"]

[[site]]
name = "dc"

[[observer]]
name = "ctl"
site = "dc"

[[node]]
name = "db-filling"
site = "dc"
address = "127.0.0.1"
disk_check = "disk-filling"

[[node]]
name = "db-steady"
site = "dc"
address = "127.0.0.1"
disk_check = "disk-steady"

[[check]]
name = "disk-filling"
kind = "disk"
target = "{filling}"
interval = "5s"
timeout = "1s"
rise = 1
fall = 1
nodes = ["db-filling"]

[[check]]
name = "disk-steady"
kind = "disk"
target = "{steady}"
interval = "5s"
timeout = "1s"
rise = 1
fall = 1
nodes = ["db-steady"]

[[hook]]
name = "noop"
kind = "exec"
command = ["/bin/true"]

[[route]]
name = "log"
kind = "log"
"#,
        filling = filling.display(),
        steady = steady.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filling_at_a_steady_rate_is_forecast_hours_ahead_and_a_steady_one_is_not() {
    let env = Env::new();
    let filling = Tmpfs::mount(env.path("filling"), 256);
    let steady = Tmpfs::mount(env.path("steady"), 256);
    std::fs::write(steady.0.join("data"), vec![7u8; 8 << 20]).unwrap();
    env.write_inventory(&inventory(&filling.0, &steady.0));
    let ward = Ward::start(&env).await;

    // 256 MiB filling at 128 KiB/s: full in about 33 minutes, well inside the 6 h horizon.
    let writer_path = filling.0.join("wal");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&writer_path).unwrap();
            let chunk = vec![1u8; 16 << 10];
            let started = Instant::now();
            let mut written = 0u64;
            // Bounded: at most 4 minutes, at most 64 MiB.
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && started.elapsed() < Duration::from_secs(240) && written < 64 << 20 {
                let due = (started.elapsed().as_millis() as u64) * 128 * 1024 / 1000;
                if written < due {
                    file.write_all(&chunk).unwrap();
                    written += chunk.len() as u64;
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
    };

    // The forecast needs three samples a minute apart: about two minutes.
    let alert = ward.wait_alert("disk:db-filling", Duration::from_secs(200)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();

    let title = alert["title"].as_str().unwrap_or_default().to_string();
    let forecast = title
        .split("db-filling's disk will be full in about ")
        .nth(1)
        .and_then(|rest| rest.split(" at the current growth rate").next())
        .unwrap_or_else(|| panic!("not a forecast: {alert}"));
    // 256 MiB at 128 KiB/s from nearly empty: about 33 minutes.
    let minutes: u64 = forecast.split('m').next().and_then(|m| m.trim().parse().ok()).unwrap_or_else(|| panic!("{forecast}"));
    assert!((20..=45).contains(&minutes), "forecast {forecast} for a disk that fills in about 33 minutes");
    assert_eq!(alert["severity"], "page", "{alert}");
    let alerts = ward.get("/v1/alerts").await;
    assert!(
        !alerts.as_array().into_iter().flatten().any(|a| a["cause"] == "disk:db-steady"),
        "a disk that is not growing was forecast to fill: {alerts}"
    );
}
