//! Meta values persist across opens; keys and values are bounded.

use ward_store::{Store, StoreError, META_VALUE_BYTES_MAX};

#[test]
fn meta_values_persist_and_bad_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("open");
        assert_eq!(store.get_meta("inventory.hash").expect("get"), None);
        store.put_meta("inventory.path", "/etc/ward/inventory.toml").expect("put");
        store.put_meta("inventory.hash", "abc").expect("put");
        store.put_meta("inventory.hash", "def").expect("overwrite");
    }
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(store.get_meta("inventory.path").expect("get").as_deref(), Some("/etc/ward/inventory.toml"));
    assert_eq!(store.get_meta("inventory.hash").expect("get").as_deref(), Some("def"));

    for key in ["", "ward.store_format", &"k".repeat(500)] {
        let err = store.put_meta(key, "x").expect_err("bad key");
        assert!(matches!(err, StoreError::BadMeta { .. }), "{err:?}");
    }
    let err = store.put_meta("big", &"v".repeat(META_VALUE_BYTES_MAX + 1)).expect_err("value too big");
    assert!(err.to_string().contains("over the"), "{err}");
}
