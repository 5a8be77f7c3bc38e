//! Diagnostics: every config problem as `FILE:LINE:COL: field.path: message (hint)`, the
//! format `sluice check` prints and the reload path logs.

use std::fmt;
use std::ops::Range;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

/// All problems of one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    pub file: String,
    pub items: Vec<Diagnostic>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            write!(f, "{}:{}:{}: {}: {}", self.file, d.line, d.col, d.path, d.message)?;
            if let Some(h) = &d.hint {
                write!(f, " ({h})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Turns byte offsets into 1-based line and column (columns count characters).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Collects diagnostics against one source text.
pub struct Sink<'t> {
    text: &'t str,
    pub items: Vec<Diagnostic>,
}

impl<'t> Sink<'t> {
    pub fn new(text: &'t str) -> Self {
        Sink { text, items: Vec::new() }
    }

    pub fn error(
        &mut self,
        span: Range<usize>,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let (line, col) = line_col(self.text, span.start);
        self.items.push(Diagnostic { line, col, path: path.into(), message: message.into(), hint });
    }
}

/// The dotted path of the table enclosing `offset` (from the last `[header]` above it),
/// plus the key found at `offset`; used to name the field of a serde error.
pub fn path_at(text: &str, span: Range<usize>) -> String {
    let before = &text[..span.start.min(text.len())];
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().trim_end_matches('.').to_string())
        .unwrap_or_default();
    let key: String = text
        .get(span.clone())
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    match (table.is_empty(), key.is_empty()) {
        (true, true) => "(root)".into(),
        (true, false) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
    }

    #[test]
    fn path_names_table_and_key() {
        let t = "[listeners.web]\nbind = 1\nbogus = 2\n";
        let at = t.find("bogus").unwrap();
        assert_eq!(path_at(t, at..at + 5), "listeners.web.bogus");
    }
}
