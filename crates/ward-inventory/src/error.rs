//! Errors a rejected inventory is reported with: where (file:line:column), which
//! field, what is wrong and how to fix it. Locations come from byte spans, turned
//! into 1-based line and column (in characters) by `LineIndex`.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InventoryError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// A path to the offending field, e.g. `service[persona-dns].actuator`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it (may be empty when there is nothing useful to say).
    pub hint: String,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

impl std::error::Error for InventoryError {}

/// Byte offset to line:column, computed once per text.
pub struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, line_starts }
    }

    /// 1-based line and column; offsets past the end or inside a character clamp
    /// rather than panic (spans come from a parser that may have recovered oddly).
    pub fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }
}

/// Collects every error of one load; nothing stops at the first one.
pub struct Sink<'a> {
    file: String,
    index: LineIndex<'a>,
    errors: Vec<InventoryError>,
}

impl<'a> Sink<'a> {
    pub fn new(file: &str, text: &'a str) -> Self {
        Sink {
            file: file.to_string(),
            index: LineIndex::new(text),
            errors: Vec::new(),
        }
    }

    pub fn error(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let (line, column) = self.index.locate(span.start);
        self.errors.push(InventoryError {
            file: self.file.clone(),
            line,
            column,
            field: field.into(),
            message: message.into(),
            hint: hint.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Errors in file order, so a reader can fix them top to bottom.
    pub fn into_errors(mut self) -> Vec<InventoryError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors.dedup();
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let index = LineIndex::new("ab\ncdé\nx");
        assert_eq!(index.locate(0), (1, 1));
        assert_eq!(index.locate(1), (1, 2));
        assert_eq!(index.locate(3), (2, 1));
        assert_eq!(index.locate(7), (2, 4)); // after the two-byte é
        assert_eq!(index.locate(8), (3, 1));
        assert_eq!(index.locate(999), (3, 2));
    }

    #[test]
    fn display_has_location_field_message_and_hint() {
        let e = InventoryError {
            file: "examples/x.toml".into(),
            line: 42,
            column: 13,
            field: "service[persona-dns].actuator".into(),
            message: "hook \"dns-apii\" does not exist".into(),
            hint: "known hooks: dns-api; add a [[hook]] named \"dns-apii\" or fix the name".into(),
        };
        assert_eq!(
            e.to_string(),
            "examples/x.toml:42:13: service[persona-dns].actuator: hook \"dns-apii\" does not exist\n  hint: known hooks: dns-api; add a [[hook]] named \"dns-apii\" or fix the name"
        );
    }
}
