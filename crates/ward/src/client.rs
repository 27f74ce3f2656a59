//! The CLI's HTTP client for a running controller: base URL, token, author,
//! timeouts, and errors a person can act on.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

/// Every CLI request gives up after this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Args, Clone, Debug)]
pub struct ControllerArgs {
    /// The controller's API (or WARD_CONTROLLER).
    #[arg(long, env = "WARD_CONTROLLER", default_value = "http://127.0.0.1:7070")]
    pub controller: String,
    /// File holding the API token, for changes (or WARD_TOKEN_FILE).
    #[arg(long, env = "WARD_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// `--output json` prints the controller's JSON answer as is.
    #[arg(long, value_enum, default_value_t = crate::OutputFormat::Text)]
    pub output: crate::OutputFormat,
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    author: String,
}

impl Client {
    pub fn new(args: &ControllerArgs) -> Result<Client, String> {
        let token = match &args.token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: cannot read the token file: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let author = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "cli".into());
        Ok(Client { http, base: args.controller.trim_end_matches('/').to_string(), token, author })
    }

    /// A GET, with the token when there is one (the journal, timeline and why need
    /// the read or the operator token).
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.get(format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get_json(&self, path: &str) -> Result<Value, String> {
        let response = self.get(path).send().await.map_err(|e| self.unreachable(e))?;
        decode(response).await
    }

    pub async fn get_text(&self, path: &str) -> Result<String, String> {
        let response = self.get(path).send().await.map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(decode(response).await.err().unwrap_or_default());
        }
        response.text().await.map_err(|e| format!("reading the answer: {e}"))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Result<Value, String> {
        let Some(token) = &self.token else {
            return Err("changes need the API token: pass --token-file FILE (or set WARD_TOKEN_FILE)".into());
        };
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("X-Ward-Author", &self.author)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        decode(response).await
    }

    fn unreachable(&self, e: reqwest::Error) -> String {
        format!("cannot reach the controller at {}: {e} (is `ward run` running? set --controller or WARD_CONTROLLER)", self.base)
    }
}

async fn decode(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let error = body.get("error").and_then(Value::as_str).unwrap_or("request failed");
    let hint = body.get("hint").and_then(Value::as_str).unwrap_or("");
    Err(if hint.is_empty() { format!("{status}: {error}") } else { format!("{status}: {error}\n  hint: {hint}") })
}
