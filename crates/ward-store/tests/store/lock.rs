//! One controller per data dir: a second open fails and says who holds it.

use ward_store::{Store, StoreError, PID_FILE};

#[test]
fn a_second_open_of_the_same_dir_fails_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("nested/data");
    let first = Store::open(&data_dir).expect("open creates the dir");
    let pid = std::process::id().to_string();
    assert_eq!(std::fs::read_to_string(data_dir.join(PID_FILE)).expect("pid file").trim(), pid);

    let err = Store::open(&data_dir).err().expect("the second open must fail");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("another ward is using {}", data_dir.display())), "{text}");
    assert!(text.contains(&format!("pid file {}", data_dir.join(PID_FILE).display())), "{text}");
    assert!(text.contains(&format!("pid {pid}")), "{text}");
    assert!(text.contains("hint: stop the other ward"), "{text}");

    // The failed open did not disturb the holder.
    first.append(&[crate::support::health_record(0)]).expect("the holder still writes");
    drop(first);
    assert!(!data_dir.join(PID_FILE).exists(), "a clean stop removes its pid file");
    let again = Store::open(&data_dir).expect("open after the holder stopped");
    assert_eq!(again.len().expect("len"), 1);
}

#[test]
fn a_data_dir_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let err = Store::open(&file).err().expect("must fail");
    assert!(matches!(err, StoreError::DataDir { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("not-a-dir") && text.contains("hint:"), "{text}");
}
