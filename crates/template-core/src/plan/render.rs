//! Text rendering of plans: the "property changes" a user reads before
//! confirming, wave by wave, each step with what changes and why.

use std::fmt;

use super::{Action, KeepReason, Plan, PlanKind, Rule};
use crate::diff::render::{inline, write_change};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PlanKind::Install => "install",
            PlanKind::Upgrade => "upgrade",
            PlanKind::Rollback => "rollback",
        };
        match &self.from_version {
            Some(from) => write!(f, "{kind} {} {from} → {}", self.template, self.to_version)?,
            None => write!(f, "{kind} {} {}", self.template, self.to_version)?,
        }
        if let Some(scope) = &self.scope {
            write!(
                f,
                " (only {})",
                scope
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(f)?;
        if self.is_empty() {
            return writeln!(f, "nothing to do");
        }
        if !self.new_secrets.is_empty() {
            writeln!(f, "secrets to generate:")?;
            for s in &self.new_secrets {
                writeln!(
                    f,
                    "  {} ({} characters, {}) for {}",
                    s.reference,
                    s.rule.length,
                    s.rule.alphabet,
                    s.used_by.join(", ")
                )?;
            }
        }
        let mut wave = 0;
        for step in &self.steps {
            if step.wave != wave {
                wave = step.wave;
                writeln!(f, "wave {wave}:")?;
            }
            let action = match step.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Restore => "restore",
                Action::Orphan => "orphan",
                Action::Remove => "remove",
            };
            writeln!(
                f,
                "  {}. {action} {}: {}",
                step.number, step.component, step.why
            )?;
            if step.action == Action::Create
                && let Some(t) = &step.target
            {
                writeln!(
                    f,
                    "       image {}; {} port(s), {} env var(s), {} config file(s), {} volume(s)",
                    t.spec.image,
                    t.spec.ports.len(),
                    t.spec.env.len() + t.shared_env.len(),
                    t.spec.config_files.len(),
                    t.spec.volumes.len()
                )?;
            }
            let prefix = format!("components[{}].", step.component);
            for c in &step.changes {
                let mut line = String::new();
                write_change(&mut line, &c.change, &prefix, 7)?;
                // The rule goes on the first line of the change.
                let (first, rest) = line.split_once('\n').unwrap_or((line.as_str(), ""));
                writeln!(f, "{first}   [{}]", rule_text(c.rule))?;
                f.write_str(rest)?;
            }
            for k in &step.kept {
                let path = k.path.strip_prefix(&prefix).unwrap_or(&k.path);
                let why = match k.reason {
                    KeepReason::UserValue => "your value stays",
                    KeepReason::VolumeNeverShrinks => "volumes never shrink",
                    KeepReason::StorageClassFixed => "an existing volume keeps its storage class",
                };
                let new_default = k
                    .new_default
                    .as_ref()
                    .map(inline)
                    .unwrap_or_else(|| "none".to_owned());
                if k.lines.is_empty() {
                    writeln!(
                        f,
                        "       = {path}: keeps {} ({why}; target default {new_default})",
                        inline(&k.kept_value)
                    )?;
                } else {
                    writeln!(
                        f,
                        "       = {path}: keeps your content ({why}); the new default differs:"
                    )?;
                }
                for h in &k.lines {
                    writeln!(
                        f,
                        "           @@ -{},{} +{},{} @@ (yours → new default)",
                        h.old_start, h.old_lines, h.new_start, h.new_lines
                    )?;
                    for l in &h.lines {
                        let mark = match l.kind {
                            crate::diff::LineKind::Context => ' ',
                            crate::diff::LineKind::Removed => '-',
                            crate::diff::LineKind::Added => '+',
                        };
                        writeln!(f, "           {mark} {}", l.text)?;
                    }
                }
            }
            for d in &step.dropped {
                let path = d.path.strip_prefix(&prefix).unwrap_or(&d.path);
                writeln!(
                    f,
                    "       ! {path}: your value {} no longer applies (removed by the new version)",
                    inline(&d.user_value)
                )?;
            }
            for v in &step.retained_volumes {
                writeln!(
                    f,
                    "       ! volume {} ({}) is unmounted and kept with its data",
                    v.name,
                    v.capacity.as_deref().unwrap_or("?")
                )?;
            }
        }
        for k in &self.kept {
            writeln!(
                f,
                "kept on {}: {} stays {}",
                k.component,
                k.path,
                inline(&k.kept_value)
            )?;
        }
        if !self.version_labels.is_empty() {
            writeln!(
                f,
                "unchanged, now counted as part of the target version: {}",
                join(self.version_labels.keys())
            )?;
        }
        if !self.kept_components.is_empty() {
            writeln!(
                f,
                "kept (added after the snapshot; remove_added removes them): {}",
                self.kept_components.join(", ")
            )?;
        }
        if !self.kept_secrets.is_empty() {
            writeln!(
                f,
                "secret references kept: {}",
                self.kept_secrets.join(", ")
            )?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

fn join<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn rule_text(rule: Rule) -> &'static str {
    match rule {
        Rule::FollowsNewVersion => "follows the new version",
        Rule::AddedByNewVersion => "added by the new version",
        Rule::RemovedByNewVersion => "removed by the new version",
        Rule::NewDefaultTaken => "was the old default, takes the new default",
        Rule::CustomizationDropped => "your customized entry is removed by the new version",
        Rule::VolumeRetained => "unmounted, data kept",
        Rule::RestoredFromSnapshot => "restored from the snapshot",
        Rule::FollowsDependency => "follows what its dependency provides",
        Rule::SetByOption => "set by this operation's options",
    }
}
