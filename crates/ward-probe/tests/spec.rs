use std::time::Duration;

use ward_core::ids::ProbeId;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::CheckKind;
use ward_probe::spec::render;
use ward_probe::specs;

#[test]
fn specs_render_each_node_into_the_check_target() {
    let mut builder = InventoryBuilder::new();
    let site = builder.site("fra");
    let a = builder.node("db-a", site, &[]);
    let b = builder.node("db-b", site, &[]);
    builder.node_mut(b).address = "10.0.0.2".into();
    let check = builder.check("health", CheckKind::Http, &[a, b], 2, 3);
    {
        let check = builder.check_mut(check);
        check.target = "http://{address}:8080/health?node={node}".into();
        check.expect_status = Some(200);
        check.expect_body = Some("ok".into());
        check.interval_ms = 2_000;
        check.timeout_ms = 700;
    }
    let snapshot = builder.build();
    let specs = specs(&snapshot);
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].probe, ProbeId(0));
    assert_eq!(specs[0].node, "db-a");
    assert_eq!(specs[0].check, "health");
    assert_eq!(specs[0].target, "http://127.0.0.1:8080/health?node=db-a");
    assert_eq!(specs[1].target, "http://10.0.0.2:8080/health?node=db-b");
    assert_eq!(specs[1].kind, CheckKind::Http);
    assert_eq!(specs[1].expect_status, Some(200));
    assert_eq!(specs[1].expect_body.as_deref(), Some("ok"));
    assert_eq!(specs[1].interval, Duration::from_millis(2_000));
    assert_eq!(specs[1].timeout, Duration::from_millis(700));
    for (index, spec) in specs.iter().enumerate() {
        assert_eq!(snapshot.probes()[index].node, snapshot.node_id(&spec.node).unwrap());
    }
}

#[test]
fn ipv6_addresses_get_brackets_where_a_port_follows() {
    assert_eq!(render("{address}:5432", "::1", "n", CheckKind::Tcp), "[::1]:5432");
    assert_eq!(render("[{address}]:5432", "::1", "n", CheckKind::Tcp), "[::1]:5432");
    assert_eq!(render("http://{address}/", "fe80::1", "n", CheckKind::Http), "http://[fe80::1]/");
    assert_eq!(render("check --host {address}", "::1", "n", CheckKind::Exec), "check --host ::1");
    assert_eq!(render("{address}:80", "10.0.0.1", "n", CheckKind::Tcp), "10.0.0.1:80");
}
