//! CLI verbs that talk to a running controller: `status`, `why`, `hold`,
//! `release`, `drain`, `undrain`, `approve`, `reject`, `ack`, `timeline`, `switchover`,
//! `rollout start|pause|resume|cancel`.

use serde_json::{json, Value};

use crate::client::{Client, ControllerArgs};
use crate::OutputFormat;

/// One verb against the controller's API.
#[derive(Clone, Debug)]
pub enum Ctl {
    Status,
    Why {
        service: String,
    },
    Hold {
        target: String,
        reason: String,
    },
    Release {
        target: String,
    },
    Drain {
        node: String,
    },
    Undrain {
        node: String,
    },
    Approve {
        decision: u64,
    },
    Reject {
        decision: u64,
        reason: String,
    },
    Ack {
        alert: u64,
    },
    Timeline {
        since: String,
    },
    Switchover {
        service: String,
        to: String,
        wait: bool,
        wait_max: String,
    },
    /// Start a rollout with its scope (the JSON body of `/v1/rollout`).
    RolloutStart {
        body: Value,
    },
    /// `pause`, `resume` or `cancel` the rollout in progress.
    RolloutControl {
        verb: &'static str,
    },
}

pub async fn run(command: Ctl, args: ControllerArgs) -> Result<(), String> {
    let client = Client::new(&args)?;
    let json = args.output == OutputFormat::Json;
    let answer = match command {
        Ctl::Status => {
            let status = client.get_json("/v1/status").await?;
            let services = client.get_json("/v1/services").await?;
            let nodes = client.get_json("/v1/nodes").await?;
            let alerts = client.get_json("/v1/alerts").await?;
            let approvals = client.get_json("/v1/approvals").await?;
            if json {
                return print_json(
                    &json!({"status": status, "services": services, "nodes": nodes, "alerts": alerts, "approvals": approvals}),
                );
            }
            if let Some(halted) = status["halted"].as_str() {
                println!("NOT ACTING: {halted}\n");
            }
            println!("{}", render_status(&status, &services, &nodes, &alerts, &approvals));
            return Ok(());
        }
        Ctl::Why { service } => {
            let entries = client.get_json(&format!("/v1/why/{service}")).await?;
            if json {
                return print_json(&entries);
            }
            println!("{}", render_why(&service, &entries));
            return Ok(());
        }
        Ctl::Timeline { since } => {
            println!("{}", client.get_text(&format!("/v1/timeline?since={since}")).await?);
            return Ok(());
        }
        Ctl::Hold { target, reason } => client.post_json("/v1/hold", json!({"target": target, "reason": reason})).await?,
        Ctl::Release { target } => client.post_json("/v1/release", json!({"target": target})).await?,
        Ctl::Drain { node } => client.post_json(&format!("/v1/drain/{node}"), json!({})).await?,
        Ctl::Undrain { node } => client.post_json(&format!("/v1/undrain/{node}"), json!({})).await?,
        Ctl::Approve { decision } => client.post_json(&format!("/v1/approve/{decision}"), json!({})).await?,
        Ctl::Reject { decision, reason } => client.post_json(&format!("/v1/reject/{decision}"), json!({"reason": reason})).await?,
        Ctl::Ack { alert } => client.post_json(&format!("/v1/ack/{alert}"), json!({})).await?,
        Ctl::RolloutStart { body } => client.post_json("/v1/rollout", body).await?,
        Ctl::RolloutControl { verb } => client.post_json(&format!("/v1/rollout/{verb}"), json!({})).await?,
        Ctl::Switchover { service, to, wait, wait_max } => {
            let wait_max_ms = ward_inventory::parse_duration_ms(&wait_max)
                .map_err(|e| format!("--wait-max {wait_max:?}: {e} (write it like 30s or 2m)"))?;
            let answer = client.post_json("/v1/switchover", json!({"service": service, "to": to})).await?;
            if !wait {
                answer
            } else {
                let outcome = wait_for_holder(&client, &service, &to, wait_max_ms, json).await?;
                json!({"answer": outcome, "asked": answer})
            }
        }
    };
    if json {
        return print_json(&answer);
    }
    println!("{}", answer.get("answer").and_then(Value::as_str).unwrap_or("done"));
    Ok(())
}

/// Polls the service until `to` holds it, showing what the controller is doing;
/// gives up (an error) after `wait_max_ms` and points at `ward why`.
async fn wait_for_holder(client: &Client, service: &str, to: &str, wait_max_ms: u64, quiet: bool) -> Result<String, String> {
    let started = std::time::Instant::now();
    let spinner = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new_spinner() };
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    loop {
        let services = client.get_json("/v1/services").await?;
        let holders: Vec<String> = services
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(service))
            .and_then(|s| s.get("holders")?.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|h| h.as_str().map(str::to_string))
            .collect();
        if holders.iter().any(|h| h == to) {
            spinner.finish_and_clear();
            return Ok(format!("{service} is on {to} ({:.1} s)", started.elapsed().as_secs_f64()));
        }
        let latest = client.get_json(&format!("/v1/why/{service}")).await.ok();
        let doing = latest
            .as_ref()
            .and_then(|entries| entries.as_array()?.last()?.get("summary")?.as_str().map(str::to_string))
            .unwrap_or_else(|| "waiting for the controller".into());
        spinner.set_message(format!("{service}: on [{}]; {doing}", holders.join(", ")));
        if started.elapsed().as_millis() as u64 >= wait_max_ms {
            spinner.finish_and_clear();
            return Err(format!(
                "{service} is still on [{}] after {}; see `ward why {service}` for what held it back",
                holders.join(", "),
                ward_core::time::human_duration(wait_max_ms)
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

fn print_json(value: &Value) -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?);
    Ok(())
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn list(v: &Value, key: &str) -> String {
    let items: Vec<&str> = v.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

/// A Patroni-`list`-style answer to "who is where and why".
pub fn render_status(status: &Value, services: &Value, nodes: &Value, alerts: &Value, approvals: &Value) -> String {
    let mut out = format!(
        "controller {} ({}), inventory {} ({})\nnodes {} up, {} down, {} unknown; {} services; {} jobs in flight; {} open alerts; {} pending approvals\n",
        s(status, "controller"),
        s(status, "mode"),
        &s(status, "inventory_hash")[..s(status, "inventory_hash").len().min(12)],
        s(status, "inventory_source"),
        n(status, "nodes_up"),
        n(status, "nodes_down"),
        n(status, "nodes_unknown"),
        n(status, "services"),
        n(status, "jobs_in_flight"),
        n(status, "open_alerts"),
        n(status, "pending_approvals"),
    );
    out.push_str(&format!("\n{:<24} {:<8} {:<12} {:<24} {}\n", "SERVICE", "KIND", "GROUP", "HOLDERS", "CANDIDATES"));
    for service in services.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<24} {:<8} {:<12} {:<24} {}\n",
            s(service, "name"),
            s(service, "kind"),
            s(service, "group"),
            list(service, "holders"),
            list(service, "candidates")
        ));
    }
    out.push_str(&format!("\n{:<20} {:<8} {:<12} {:<8} {:<10} {}\n", "NODE", "SITE", "LIFECYCLE", "STATUS", "DAMPING", "REPLICATION"));
    for node in nodes.as_array().into_iter().flatten() {
        let damping = if node.get("suppressed").and_then(Value::as_bool) == Some(true) {
            format!("out ({})", n(node, "penalty"))
        } else {
            "-".into()
        };
        let replication = match node.get("replication") {
            Some(Value::Object(r)) => r.get("state").and_then(Value::as_str).unwrap_or("-").to_string(),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<20} {:<8} {:<12} {:<8} {:<10} {}\n",
            s(node, "name"),
            s(node, "site"),
            s(node, "lifecycle"),
            s(node, "status"),
            damping,
            replication
        ));
    }
    let failover = status.get("failover").and_then(Value::as_array).cloned().unwrap_or_default();
    if !failover.is_empty() {
        out.push_str("\nIF A PRIMARY'S HOST STOPS ANSWERING\n");
        for f in failover {
            let how = if f.get("automatic").and_then(Value::as_bool) == Some(true) { "automatic" } else { "needs approval" };
            out.push_str(&format!("  {} on {}: {how}: {}\n", s(&f, "service"), s(&f, "holder"), s(&f, "sentence")));
        }
    }
    let budget: Vec<String> = status_budget(status);
    if !budget.is_empty() {
        out.push_str(&format!("\nBUDGET (moves used / allowed in the window): {}\n", budget.join(", ")));
    }
    let alerts = alerts.as_array().cloned().unwrap_or_default();
    if !alerts.is_empty() {
        out.push_str("\nALERTS\n");
        for alert in alerts {
            let acked = alert.get("acked_by").and_then(Value::as_str).map(|a| format!(" (acked by {a})")).unwrap_or_default();
            out.push_str(&format!(
                "  #{} [{}] {} x{}: {}{acked}\n",
                n(&alert, "id"),
                s(&alert, "severity"),
                s(&alert, "cause"),
                n(&alert, "count"),
                s(&alert, "title")
            ));
        }
    }
    let approvals = approvals.as_array().cloned().unwrap_or_default();
    if !approvals.is_empty() {
        out.push_str("\nWAITING FOR APPROVAL (ward approve N / ward reject N)\n");
        for approval in approvals {
            let reasons: Vec<&str> =
                approval.get("reasons").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            out.push_str(&format!("  decision {}: {}\n    {}\n", n(&approval, "decision"), s(&approval, "summary"), reasons.join(" ")));
        }
    }
    out
}

fn status_budget(status: &Value) -> Vec<String> {
    status
        .get("budget")
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .map(|g| {
                    let group = s(g, "group");
                    let name = if group == "*" { "fleet" } else { group };
                    format!("{name} {}/{}", n(g, "used"), n(g, "limit"))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn render_why(service: &str, entries: &Value) -> String {
    let entries = entries.as_array().cloned().unwrap_or_default();
    if entries.is_empty() {
        return format!("No decision about {service} in the journal yet: Ward has not needed to act on it.");
    }
    let mut out = String::new();
    for entry in entries {
        let action = entry.get("action").cloned().unwrap_or(Value::Null);
        out.push_str(&format!(
            "decision {} at {} [{}]: {} {} -> {}\n  why: {}\n  planner: {}\n",
            n(&entry, "decision"),
            ward_core::time::clock(n(&entry, "at_ms") % (24 * ward_core::time::HOUR_MS)),
            s(&entry, "outcome"),
            s(&action, "kind"),
            list(&action, "from"),
            list(&action, "to"),
            s(&entry, "cause"),
            s(&entry, "summary"),
        ));
        for guard in entry.get("guards").and_then(Value::as_array).into_iter().flatten() {
            if let Some([name, outcome, sentence]) = guard.as_array().map(|g| [&g[0], &g[1], &g[2]]) {
                out.push_str(&format!(
                    "    {:<22} {:<15} {}\n",
                    name.as_str().unwrap_or(""),
                    outcome.as_str().unwrap_or(""),
                    sentence.as_str().unwrap_or("")
                ));
            }
        }
        let evidence = entry.get("evidence").cloned().unwrap_or(Value::Null);
        out.push_str(&format!("  evidence: inventory {}\n", &s(&evidence, "snapshot_hash")[..s(&evidence, "snapshot_hash").len().min(12)]));
        for o in evidence.get("observations").and_then(Value::as_array).into_iter().flatten() {
            let age = o
                .get("age_ms")
                .and_then(Value::as_u64)
                .map(|a| format!("{} old", ward_core::time::human_duration(a)))
                .unwrap_or_else(|| "never observed".into());
            out.push_str(&format!("    {} {} by {}: {} ({age})\n", s(o, "node"), s(o, "check"), s(o, "observer"), s(o, "status")));
        }
        for c in evidence.get("candidates").and_then(Value::as_array).into_iter().flatten() {
            let why = c.get("why_not").and_then(Value::as_str).map(|w| format!(": {w}")).unwrap_or_default();
            out.push_str(&format!(
                "    candidate {} {}{why}\n",
                s(c, "node"),
                if c.get("eligible").and_then(Value::as_bool) == Some(true) { "eligible" } else { "not eligible" }
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_says_which_primaries_need_approval_if_their_host_stops_answering() {
        let status = json!({"failover": [
            {"service": "db", "holder": "pg1", "automatic": true, "sentence": "its ward agent fences it within its lease"},
            {"service": "reports", "holder": "pg4", "automatic": false, "sentence": "pg4 runs no ward agent"}
        ]});
        let text = render_status(&status, &json!([]), &json!([]), &json!([]), &json!([]));
        assert!(text.contains("IF A PRIMARY'S HOST STOPS ANSWERING"), "{text}");
        assert!(text.contains("  db on pg1: automatic: its ward agent"), "{text}");
        assert!(text.contains("  reports on pg4: needs approval: pg4 runs no ward agent"), "{text}");
    }
}
