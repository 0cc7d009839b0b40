//! Line diffs of config file contents, with a few lines of context around
//! each change, computed by the `similar` crate (Myers' algorithm).

use serde::{Deserialize, Serialize};

/// Lines of unchanged text shown before and after each change.
pub const CONTEXT_LINES: usize = 3;

/// One group of nearby changed lines with their context, like a hunk of a
/// unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineHunk {
    /// First line of the hunk in the old text (1-based; 0 for an empty text).
    pub old_start: usize,
    /// Number of old lines the hunk covers.
    pub old_lines: usize,
    /// First line of the hunk in the new text (1-based; 0 for an empty text).
    pub new_start: usize,
    /// Number of new lines the hunk covers.
    pub new_lines: usize,
    /// The lines, in order.
    pub lines: Vec<DiffLine>,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DiffLine {
    /// Whether the line is context, removed or added.
    pub kind: LineKind,
    /// The line without its line ending.
    pub text: String,
}

/// Role of a line in a hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// Unchanged, shown for orientation.
    Context,
    /// Only in the old text.
    Removed,
    /// Only in the new text.
    Added,
}

/// The hunks that turn `old` into `new`; empty when the texts are equal.
pub fn line_diff(old: &str, new: &str) -> Vec<LineHunk> {
    if old == new {
        return Vec::new();
    }
    let diff = similar::TextDiff::from_lines(old, new);
    let mut hunks = Vec::new();
    for group in diff.grouped_ops(CONTEXT_LINES) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_range = first.old_range().start..last.old_range().end;
        let new_range = first.new_range().start..last.new_range().end;
        let mut lines = Vec::new();
        for op in &group {
            for change in diff.iter_changes(op) {
                let kind = match change.tag() {
                    similar::ChangeTag::Equal => LineKind::Context,
                    similar::ChangeTag::Delete => LineKind::Removed,
                    similar::ChangeTag::Insert => LineKind::Added,
                };
                lines.push(DiffLine {
                    kind,
                    text: change.value().trim_end_matches(['\n', '\r']).to_owned(),
                });
            }
        }
        hunks.push(LineHunk {
            old_start: start_line(&old_range),
            old_lines: old_range.len(),
            new_start: start_line(&new_range),
            new_lines: new_range.len(),
            lines,
        });
    }
    hunks
}

/// Unified-diff convention: 1-based, except that an empty range names the
/// line before it.
fn start_line(range: &std::ops::Range<usize>) -> usize {
    if range.is_empty() {
        range.start
    } else {
        range.start + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_have_no_hunks() {
        assert!(line_diff("a\nb\n", "a\nb\n").is_empty());
    }

    #[test]
    fn one_changed_line_keeps_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let hunks = line_diff(old, new);
        assert_eq!(hunks.len(), 1);
        let h = &hunks[0];
        assert_eq!(
            (h.old_start, h.old_lines, h.new_start, h.new_lines),
            (2, 7, 2, 7)
        );
        let removed: Vec<_> = h
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Removed)
            .collect();
        let added: Vec<_> = h
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Added)
            .collect();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].text, "5");
        assert_eq!(added[0].text, "five");
    }

    #[test]
    fn distant_changes_make_separate_hunks() {
        let old: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let new = old
            .replace("line 2\n", "line two\n")
            .replace("line 28\n", "line 28b\n");
        assert_eq!(line_diff(&old, &new).len(), 2);
    }

    #[test]
    fn from_and_to_empty() {
        let hunks = line_diff("", "a\nb\n");
        assert_eq!(hunks.len(), 1);
        assert_eq!(
            (hunks[0].old_start, hunks[0].old_lines, hunks[0].new_start),
            (0, 0, 1)
        );
    }
}
