//! Text rendering of diffs for people, in the style of helm-diff: one
//! block per component, `+` added, `-` removed, `~` changed, secrets
//! masked, config file contents as line diffs with context.

use std::fmt::{self, Write};

use serde_json::Value;

use super::{ChangeKind, ComponentDiff, FieldChange, LineKind, MASK, Section, VersionDiff};

/// Longest value shown inline; the JSON rendering always has all of it.
const MAX_INLINE: usize = 160;

impl fmt::Display for VersionDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "template {}: {} → {}",
            self.template, self.from_version, self.to_version
        )?;
        if self.is_empty() {
            return writeln!(f, "no differences");
        }
        for (title, changes) in [
            ("version metadata", &self.metadata),
            ("modules", &self.modules),
            ("plugin definitions", &self.plugins),
            ("config groups", &self.config_groups),
        ] {
            if !changes.is_empty() {
                writeln!(f, "{title}:")?;
                write_changes(f, changes, "", 2)?;
            }
        }
        for c in &self.components {
            write_component(f, c)?;
        }
        Ok(())
    }
}

fn write_component(f: &mut fmt::Formatter<'_>, c: &ComponentDiff) -> fmt::Result {
    match c.status {
        ChangeKind::Added => {
            writeln!(f, "+ component {} (added)", c.key)?;
            write_changes(f, &c.changes, &format!("components[{}].", c.key), 4)
        }
        ChangeKind::Removed => {
            // The fields of a removed component are noise in text: what
            // matters is that it is gone. JSON keeps them.
            writeln!(f, "- component {} (removed from the template)", c.key)
        }
        ChangeKind::Changed => {
            writeln!(f, "~ component {}", c.key)?;
            write_changes(f, &c.changes, &format!("components[{}].", c.key), 4)
        }
    }
}

/// Writes one line per change (more for config file diffs), with `prefix`
/// stripped from paths and `indent` spaces in front.
pub(crate) fn write_changes<W: Write + ?Sized>(
    w: &mut W,
    changes: &[FieldChange],
    prefix: &str,
    indent: usize,
) -> fmt::Result {
    for c in changes {
        write_change(w, c, prefix, indent)?;
    }
    Ok(())
}

/// Writes one change.
pub(crate) fn write_change<W: Write + ?Sized>(
    w: &mut W,
    c: &FieldChange,
    prefix: &str,
    indent: usize,
) -> fmt::Result {
    let pad = " ".repeat(indent);
    let path = c.path.strip_prefix(prefix).unwrap_or(&c.path);
    let sign = sign(c.kind);
    if !c.lines.is_empty() {
        writeln!(w, "{pad}{sign} {path}:")?;
        for h in &c.lines {
            writeln!(
                w,
                "{pad}    @@ -{},{} +{},{} @@",
                h.old_start, h.old_lines, h.new_start, h.new_lines
            )?;
            for l in &h.lines {
                let mark = match l.kind {
                    LineKind::Context => ' ',
                    LineKind::Removed => '-',
                    LineKind::Added => '+',
                };
                writeln!(w, "{pad}    {mark} {}", l.text)?;
            }
        }
        return Ok(());
    }
    if c.section == Section::ConfigFiles && c.field.is_none() {
        let file = c.new.as_ref().or(c.old.as_ref());
        let content = file
            .and_then(|v| v.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mode = file
            .and_then(|v| v.get("mode"))
            .and_then(Value::as_str)
            .unwrap_or("");
        writeln!(
            w,
            "{pad}{sign} {path} (mode {mode}, {} lines)",
            content.lines().count()
        )?;
        for line in content.lines() {
            writeln!(w, "{pad}    {sign} {line}")?;
        }
        return Ok(());
    }
    match (c.kind, &c.old, &c.new) {
        (ChangeKind::Changed, Some(o), Some(n)) => {
            let note = if c.secret {
                " (secret value changed)"
            } else {
                ""
            };
            writeln!(w, "{pad}~ {path}: {} → {}{note}", inline(o), inline(n))
        }
        (_, _, Some(v)) | (_, Some(v), None) => {
            writeln!(w, "{pad}{sign} {path}: {}", entry_summary(v))
        }
        (_, None, None) => writeln!(w, "{pad}{sign} {path}"),
    }
}

/// A whole list entry on one line: a variable as its value (or as
/// "generated" for install-time secrets), anything else as compact JSON.
fn entry_summary(v: &Value) -> String {
    match v {
        Value::Object(m) if m.contains_key("generate") => {
            let length = m
                .get("generate")
                .and_then(|g| g.get("length"))
                .map(|l| l.to_string())
                .unwrap_or_default();
            format!("generated at install ({length} characters)")
        }
        Value::Object(m) if m.contains_key("name") && m.contains_key("value") => {
            m.get("value").map(inline).unwrap_or_default()
        }
        _ => inline(v),
    }
}

pub(crate) fn sign(kind: ChangeKind) -> char {
    match kind {
        ChangeKind::Added => '+',
        ChangeKind::Removed => '-',
        ChangeKind::Changed => '~',
    }
}

/// A value on one line: strings quoted, masks bare, the rest as compact
/// JSON, long values cut with a note of how much was left out.
pub(crate) fn inline(v: &Value) -> String {
    if v.as_str() == Some(MASK) {
        return MASK.to_owned();
    }
    let text = serde_json::to_string(v).unwrap_or_default();
    let count = text.chars().count();
    if count <= MAX_INLINE {
        return text;
    }
    let cut: String = text.chars().take(MAX_INLINE).collect();
    format!("{cut}… ({} more characters)", count - MAX_INLINE)
}
