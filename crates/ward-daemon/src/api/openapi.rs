//! The OpenAPI 3.0 document for `/v1`, served at `/v1/openapi.json`.

use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

/// (method, path, summary, mutating)
const ROUTES: &[(&str, &str, &str, bool)] = &[
    (
        "get",
        "/v1/status",
        "Controller, inventory and fleet summary; `acting: false` and `halted` while the journal cannot be written.",
        false,
    ),
    ("get", "/readyz", "200 while Ward acts; 503 with the reason while it has stopped (its journal cannot be written).", false),
    ("get", "/v1/nodes", "Every node: lifecycle, health, damping, replication, disk forecast, per-probe votes.", false),
    ("get", "/v1/nodes/{name}", "One node.", false),
    ("get", "/v1/services", "Every service: kind, group, current holders, candidates.", false),
    ("get", "/v1/observations", "Per node and probe, each observer's vote and its age. Read or operator token.", false),
    ("get", "/v1/plan", "The latest planning round: actions with outcome and reasons.", false),
    ("get", "/v1/approvals", "Decisions waiting for an operator.", false),
    ("get", "/v1/alerts", "Open alert groups (one per cause).", false),
    (
        "get",
        "/v1/journal",
        "Journal records (query: from=SEQ inclusive, or since=SEQ exclusive; limit=N; neither: the newest N). Read or operator token.",
        false,
    ),
    ("get", "/v1/timeline", "The journal as Markdown (query: since=2h). Read or operator token.", false),
    (
        "get",
        "/v1/why/{service}",
        "The latest decisions about a service with evidence and every guard's sentence. Read or operator token.",
        false,
    ),
    ("post", "/v1/approve/{decision}", "Approve a pending decision.", true),
    ("post", "/v1/reject/{decision}", "Reject a pending decision (body: {reason}).", true),
    ("post", "/v1/hold", "Hold a node, site or service, or freeze the fleet (body: {target: \"site:scl2\" or \"fleet\", reason, until_ms?}).", true),
    ("post", "/v1/release", "Release a hold (body: {target}).", true),
    ("post", "/v1/drain/{node}", "Drain a node: move its services away, send it nothing new.", true),
    ("post", "/v1/undrain/{node}", "Undrain a node.", true),
    ("post", "/v1/ack/{alert}", "Acknowledge an alert: it stops escalating.", true),
    ("post", "/v1/switchover", "Move a vip or primary service to a node (body: {service, to}).", true),
    ("post", "/v1/sync", "Previewed sync of a sync service (body: {service, from, to}).", true),
    ("post", "/v1/rollout", "Rolling maintenance (body: {nodes, batch_size, operation, domain?, domains_max?, pool_percent_max?}); an over-broad one is refused.", true),
    ("post", "/v1/rollout/{verb}", "Pause, resume or cancel the rollout in progress (verb: pause, resume, cancel).", true),
    ("post", "/v1/observations", "An observer agent's probe results (body: {observer, observations}). Observer or operator token.", true),
    (
        "post",
        "/v1/agent/lease",
        "A `ward agent` lease renewal (body: LeaseRequest {node, token_seen, sent_at_unix_ms, inventory_hash, peers: [{node, reachable, writable}], self_fenced}); answer: LeaseAnswer {granted, token, lease_ms, renew_every_ms, stay_fenced, sentence}. Agent token only.",
        true,
    ),
];

pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, mutating) in ROUTES {
        let mut operation = json!({
            "summary": summary,
            "responses": {
                "200": {"description": "OK (JSON)"},
                "400": {"description": "Bad request: {error, hint}"},
                "404": {"description": "No such object: {error, hint}"}
            }
        });
        if *mutating {
            operation["security"] = json!([{"bearer": []}]);
            operation["responses"]["401"] = json!({"description": "Missing or wrong bearer token"});
            operation["responses"]["409"] = json!({"description": "The engine refused: {error, hint}; nothing changed"});
            operation["parameters"] = json!([{"name": "X-Ward-Author", "in": "header", "required": false, "schema": {"type": "string"}}]);
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            let existing = operation.get("parameters").and_then(|p| p.as_array()).cloned().unwrap_or_default();
            operation["parameters"] = Value::Array(existing.into_iter().chain(params).collect());
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Ward", "version": env!("CARGO_PKG_VERSION"), "description": "A failover control plane whose automation never makes an outage worse."},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}

pub async fn document() -> impl IntoResponse {
    Json(build())
}
