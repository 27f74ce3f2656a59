//! Reading a sync preview from a hook's answer (seed 001: see what a sync would
//! delete before it deletes it). A preview that cannot be read is a failure, never
//! "nothing to delete": the destructive-preview guard trusts these numbers.

use serde::Deserialize;
use ward_core::action::SyncPreview;

use crate::text::cap;

/// The sample is for people; a hook listing a million paths must not bloat the journal.
const DELETED_SAMPLE_MAX: usize = 20;

/// The shape a preview hook answers with. Unknown fields are ignored (hooks may say more).
#[derive(Deserialize)]
struct PreviewAnswer {
    files_added: u32,
    files_changed: u32,
    files_deleted: u32,
    #[serde(default)]
    deleted_sample: Vec<String>,
}

/// Parses `{files_added, files_changed, files_deleted, deleted_sample}`. The whole
/// text is tried first, then its last non-empty line (scripts that log before answering).
pub(crate) fn parse_preview(text: &[u8]) -> Result<SyncPreview, String> {
    let text = String::from_utf8_lossy(text);
    let whole = serde_json::from_str::<PreviewAnswer>(text.trim());
    let answer = match whole {
        Ok(answer) => answer,
        Err(whole_error) => {
            let last = text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
            serde_json::from_str::<PreviewAnswer>(last).map_err(|_| {
                let shown = if text.trim().is_empty() { "nothing".to_string() } else { format!("{:?}", cap(text.trim(), 120)) };
                format!(
                    "the preview is not a JSON object {{files_added, files_changed, files_deleted, deleted_sample}} ({whole_error}); it said {shown}"
                )
            })?
        }
    };
    let mut deleted_sample = answer.deleted_sample;
    deleted_sample.truncate(DELETED_SAMPLE_MAX);
    Ok(SyncPreview {
        files_added: answer.files_added,
        files_changed: answer.files_changed,
        files_deleted: answer.files_deleted,
        deleted_sample,
    })
}

/// The outcome message of a successful preview.
pub(crate) fn describe(preview: &SyncPreview) -> String {
    format!("preview: would add {}, change {}, delete {} files", preview.files_added, preview.files_changed, preview.files_deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_object_and_ignores_extra_fields() {
        let p = parse_preview(br#"{"files_added":1,"files_changed":2,"files_deleted":3,"deleted_sample":["a","b"],"extra":true}"#).unwrap();
        assert_eq!((p.files_added, p.files_changed, p.files_deleted), (1, 2, 3));
        assert_eq!(p.deleted_sample, vec!["a", "b"]);
    }

    #[test]
    fn reads_the_last_line_after_log_lines() {
        let p = parse_preview(b"scanning /srv/mirror\n{\"files_added\":0,\"files_changed\":0,\"files_deleted\":9}\n").unwrap();
        assert_eq!(p.files_deleted, 9);
        assert!(p.deleted_sample.is_empty());
    }

    #[test]
    fn refuses_garbage_and_missing_counts() {
        let e = parse_preview(b"rsync: connection unexpectedly closed").unwrap_err();
        assert!(e.contains("not a JSON object") && e.contains("rsync: connection"), "{e}");
        assert!(parse_preview(br#"{"files_added":1,"files_changed":2}"#).unwrap_err().contains("files_deleted"));
        assert!(parse_preview(br#"{"files_added":-1,"files_changed":0,"files_deleted":0}"#).is_err());
        assert!(parse_preview(b"").unwrap_err().contains("said nothing"));
    }

    #[test]
    fn caps_the_sample() {
        let sample: Vec<String> = (0..100).map(|i| format!("\"f{i}\"")).collect();
        let text = format!("{{\"files_added\":0,\"files_changed\":0,\"files_deleted\":100,\"deleted_sample\":[{}]}}", sample.join(","));
        assert_eq!(parse_preview(text.as_bytes()).unwrap().deleted_sample.len(), DELETED_SAMPLE_MAX);
    }
}
