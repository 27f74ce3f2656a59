//! postgres / mysql: for now only a tcp connect to the target's `host:port`.
//!
//! This is deliberately honest: a pass here means the port accepts connections, NOT
//! that the server answers queries or that replication runs. Issue 4 replaces this
//! with real clients that report `ProbeDetail::Replication`; until then every result
//! says so in its message.

use crate::kinds::tcp::connect_verdict;
use crate::result::{bounded, fail, pass_with, ProbeResult};
use crate::spec::ProbeSpec;

const TCP_ONLY: &str = "tcp only: replication is probed in issue 4";

pub async fn probe_database(spec: &ProbeSpec) -> ProbeResult {
    bounded(spec.timeout, async {
        match connect_verdict(&spec.target).await {
            Ok(_) => pass_with(TCP_ONLY),
            Err(message) => fail(format!("{message} ({TCP_ONLY})")),
        }
    })
    .await
}
