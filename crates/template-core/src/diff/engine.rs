//! The diff engine: walks two versions (or two states of one component)
//! section by section, comparing typed values once and handing only what
//! differs to [`super::changes`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::changes::{Site, leaf, value_changes, whole_entry};
use super::lists::{keyed, keyed_entries, keyed_names, map_changes, set_changes};
use super::{ChangeKind, ComponentDiff, FieldChange, Section, VersionDiff, to_value};
use crate::error::{Error, Result};
use crate::model::{
    Component, ConfigFile, ConfigGroup, ConnectionVar, EnvVar, Module, Plugin, PluginAttachment,
    Port, TemplateVersion, Volume,
};
use crate::name_hash::NameMap;

/// Compares two versions of one template.
///
/// Fails with [`Error::TemplateMismatch`] when they belong to different
/// templates. `diff(a, a)` is empty.
///
/// ```
/// use template_core::{diff, testing::minimal_version};
/// let a = minimal_version("shop", "1.0.0");
/// let mut b = minimal_version("shop", "1.1.0");
/// b.components[0].image = "registry.example.com/demo/web:1.1@sha256:1111111111111111111111111111111111111111111111111111111111111111".into();
/// let d = diff(&a, &b)?;
/// assert_eq!(d.component("web").unwrap().changes[0].path, "components[web].image");
/// assert!(diff(&a, &a)?.is_empty());
/// # Ok::<(), template_core::Error>(())
/// ```
pub fn diff(from: &TemplateVersion, to: &TemplateVersion) -> Result<VersionDiff> {
    if from.template.id != to.template.id {
        return Err(Error::TemplateMismatch {
            expected: from.template.id.clone(),
            found: to.template.id.clone(),
        });
    }
    let mut metadata = Vec::new();
    metadata_changes(&mut metadata, from, to);

    let mut modules = Vec::new();
    keyed_entries(
        &mut modules,
        &Site::top(Section::Modules),
        "modules",
        &from.modules,
        &to.modules,
        |m: &Module| m.key.as_str(),
    );
    let mut plugins = Vec::new();
    plugin_definition_changes(
        &mut plugins,
        "",
        Section::PluginDefinitions,
        &from.plugins,
        &to.plugins,
    );
    let mut config_groups = Vec::new();
    config_group_changes(&mut config_groups, &from.config_groups, &to.config_groups);

    Ok(VersionDiff {
        template: to.template.id.clone(),
        from_version: from.version.clone(),
        to_version: to.version.clone(),
        metadata,
        modules,
        plugins,
        config_groups,
        components: component_diffs(&from.components, &to.components),
    })
}

/// The changed components: those of `new` in its order, then the removed
/// ones in the old order. Each pair is walked once; an unchanged one
/// yields no change and is skipped.
fn component_diffs(old: &[Component], new: &[Component]) -> Vec<ComponentDiff> {
    let mut components = Vec::new();
    let old_keyed = keyed_names(old, |c| c.key.as_str());
    let new_keyed = keyed_names(new, |c| c.key.as_str());
    let mut old_map: NameMap<'_, &Component> = NameMap::with_len(old_keyed.len());
    for (k, c) in &old_keyed {
        old_map.insert(k, *c);
    }
    let mut new_map: NameMap<'_, &Component> = NameMap::with_len(new_keyed.len());
    for (k, c) in &new_keyed {
        new_map.insert(k, *c);
    }
    for (key, new) in &new_keyed {
        let old = old_map.get(key).copied();
        let changes = component_changes(key, old, Some(new));
        if changes.is_empty() {
            continue;
        }
        components.push(ComponentDiff {
            key: key.to_string(),
            status: if old.is_some() {
                ChangeKind::Changed
            } else {
                ChangeKind::Added
            },
            changes,
        });
    }
    for (key, old) in &old_keyed {
        if new_map.contains_key(key) {
            continue;
        }
        components.push(ComponentDiff {
            key: key.to_string(),
            status: ChangeKind::Removed,
            changes: component_changes(key, Some(old), None),
        });
    }
    components
}

/// Every field change of one component between two versions; `None` on a
/// side means the component is absent there. Paths start at
/// `components[<key>]`.
pub fn component_changes(
    key: &str,
    old: Option<&Component>,
    new: Option<&Component>,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    if old.is_none() && new.is_none() {
        return out;
    }
    let base = format!("components[{key}]");
    let site = |section| Site {
        base: &base,
        section,
        item: None,
    };
    // A leaf field: compared typed, turned into values only when it differs.
    let mut field =
        |section, name, same: fn(&Component, &Component) -> bool, f: fn(&Component) -> Value| {
            if let (Some(o), Some(n)) = (old, new)
                && same(o, n)
            {
                return;
            }
            leaf(&mut out, &site(section), Some(name), old.map(f), new.map(f));
        };
    field(
        Section::Identity,
        "name",
        |o, n| o.name == n.name,
        |c| Value::String(c.name.clone()),
    );
    field(
        Section::Identity,
        "description",
        |o, n| o.description == n.description,
        |c| Value::String(c.description.clone()),
    );
    field(
        Section::Module,
        "module",
        |o, n| o.module == n.module,
        |c| c.module.clone().map(Value::String).unwrap_or(Value::Null),
    );
    field(
        Section::Image,
        "image",
        |o, n| o.image == n.image,
        |c| Value::String(c.image.clone()),
    );
    field(
        Section::Command,
        "command",
        |o, n| o.command == n.command,
        |c| strings(&c.command),
    );
    field(
        Section::Command,
        "args",
        |o, n| o.args == n.args,
        |c| strings(&c.args),
    );

    // The missing side of an added or removed component has empty lists.
    fn list<'c, T>(c: Option<&'c Component>, f: fn(&'c Component) -> &'c [T]) -> &'c [T] {
        match c {
            Some(c) => f(c),
            None => &[],
        }
    }
    keyed_entries(
        &mut out,
        &site(Section::Ports),
        "ports",
        list(old, |c| &c.ports),
        list(new, |c| &c.ports),
        |p: &Port| p.name.as_str(),
    );
    env_changes(
        &mut out,
        &site(Section::Env),
        "env",
        list(old, |c| &c.env),
        list(new, |c| &c.env),
    );
    keyed_entries(
        &mut out,
        &site(Section::ConnectionInfo),
        "connection_info",
        list(old, |c| &c.connection_info),
        list(new, |c| &c.connection_info),
        |v: &ConnectionVar| v.name.as_str(),
    );
    config_file_changes(
        &mut out,
        &site(Section::ConfigFiles),
        "config_files",
        list(old, |c| &c.config_files),
        list(new, |c| &c.config_files),
    );
    keyed_entries(
        &mut out,
        &site(Section::Volumes),
        "volumes",
        list(old, |c| &c.volumes),
        list(new, |c| &c.volumes),
        |v: &Volume| v.name.as_str(),
    );
    set_changes(
        &mut out,
        &site(Section::Dependencies),
        "depends_on",
        list(old, |c| &c.depends_on),
        list(new, |c| &c.depends_on),
    );
    // Typed comparison first: serializing is the expensive part.
    if old.map(|c| &c.scaling) != new.map(|c| &c.scaling) {
        let o = old.map(|c| to_value(&c.scaling));
        let n = new.map(|c| to_value(&c.scaling));
        let site = site(Section::Scaling);
        value_changes(
            &mut out,
            &site,
            Some("scaling"),
            o.as_ref(),
            n.as_ref(),
            false,
        );
    }
    if old.map(|c| &c.probes) != new.map(|c| &c.probes) {
        let o = old.map(|c| to_value(&c.probes));
        let n = new.map(|c| to_value(&c.probes));
        let site = site(Section::Probes);
        value_changes(
            &mut out,
            &site,
            Some("probes"),
            o.as_ref(),
            n.as_ref(),
            false,
        );
    }
    static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();
    map_changes(
        &mut out,
        &site(Section::Labels),
        "labels",
        old.map_or(&NO_LABELS, |c| &c.labels),
        new.map_or(&NO_LABELS, |c| &c.labels),
    );
    attachment_changes(
        &mut out,
        &base,
        list(old, |c| &c.plugins),
        list(new, |c| &c.plugins),
    );
    out
}

/// Changes between two env var lists at `<base>.<list>[NAME]`; values of
/// secret variables are masked.
fn env_changes(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    list: &str,
    old: &[EnvVar],
    new: &[EnvVar],
) {
    keyed_entries(out, site, list, old, new, |e: &EnvVar| e.name.as_str());
}

/// Changes between two config file lists, matched by mount path, with a
/// line diff of changed contents.
fn config_file_changes(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    list: &str,
    old: &[ConfigFile],
    new: &[ConfigFile],
) {
    keyed_entries(out, site, list, old, new, |f: &ConfigFile| {
        f.mount_path.as_str()
    });
}

/// Changes between two lists of plugin definitions, matched by key; their
/// env and config files are compared entry by entry so secrets stay masked.
pub(crate) fn plugin_definition_changes(
    out: &mut Vec<FieldChange>,
    base: &str,
    section: Section,
    old: &[Plugin],
    new: &[Plugin],
) {
    if old == new {
        return;
    }
    let list = if base.is_empty() {
        "plugins".to_owned()
    } else {
        format!("{base}.plugin_definitions")
    };
    let old_keyed = keyed(old, |p| p.key.as_str());
    let new_keyed = keyed(new, |p| p.key.as_str());
    let old_map: BTreeMap<&str, &Plugin> =
        old_keyed.iter().map(|(k, p)| (k.as_str(), *p)).collect();
    let new_map: BTreeMap<&str, &Plugin> =
        new_keyed.iter().map(|(k, p)| (k.as_str(), *p)).collect();
    for (key, n) in &new_keyed {
        let o = old_map.get(key.as_str()).copied();
        if o == Some(*n) {
            continue;
        }
        let item_base = format!("{list}[{key}]");
        let site = Site {
            base: &item_base,
            section,
            item: Some(key.as_str()),
        };
        match o {
            None => whole_entry(out, &site, ChangeKind::Added, None, Some(to_value(*n))),
            Some(o) => {
                let strip = |p: &Plugin| {
                    let mut v = to_value(p);
                    if let Value::Object(m) = &mut v {
                        m.remove("env");
                        m.remove("config_files");
                    }
                    v
                };
                value_changes(out, &site, None, Some(&strip(o)), Some(&strip(n)), false);
                env_changes(out, &site, "env", &o.env, &n.env);
                config_file_changes(out, &site, "config_files", &o.config_files, &n.config_files);
            }
        }
    }
    for (key, o) in &old_keyed {
        if !new_map.contains_key(key.as_str()) {
            let base = format!("{list}[{key}]");
            let site = Site {
                base: &base,
                section,
                item: Some(key.as_str()),
            };
            whole_entry(out, &site, ChangeKind::Removed, Some(to_value(*o)), None);
        }
    }
}

fn config_group_changes(out: &mut Vec<FieldChange>, old: &[ConfigGroup], new: &[ConfigGroup]) {
    let old_keyed = keyed(old, |g| g.name.as_str());
    let new_keyed = keyed(new, |g| g.name.as_str());
    let old_map: BTreeMap<&str, &ConfigGroup> =
        old_keyed.iter().map(|(k, g)| (k.as_str(), *g)).collect();
    let new_map: BTreeMap<&str, &ConfigGroup> =
        new_keyed.iter().map(|(k, g)| (k.as_str(), *g)).collect();
    for (key, n) in &new_keyed {
        let o = old_map.get(key.as_str()).copied();
        if o == Some(*n) {
            continue;
        }
        let base = format!("config_groups[{key}]");
        let site = Site {
            base: &base,
            section: Section::ConfigGroups,
            item: Some(key.as_str()),
        };
        match o {
            None => whole_entry(out, &site, ChangeKind::Added, None, Some(to_value(*n))),
            Some(o) => {
                set_changes(out, &site, "components", &o.components, &n.components);
                env_changes(out, &site, "env", &o.env, &n.env);
            }
        }
    }
    for (key, o) in &old_keyed {
        if !new_map.contains_key(key.as_str()) {
            let base = format!("config_groups[{key}]");
            let site = Site {
                base: &base,
                section: Section::ConfigGroups,
                item: Some(key.as_str()),
            };
            whole_entry(out, &site, ChangeKind::Removed, Some(to_value(*o)), None);
        }
    }
}

fn attachment_changes(
    out: &mut Vec<FieldChange>,
    base: &str,
    old: &[PluginAttachment],
    new: &[PluginAttachment],
) {
    if old == new {
        return;
    }
    let old_keyed = keyed(old, |a| a.plugin.as_str());
    let new_keyed = keyed(new, |a| a.plugin.as_str());
    let old_map: BTreeMap<&str, &PluginAttachment> =
        old_keyed.iter().map(|(k, a)| (k.as_str(), *a)).collect();
    let new_map: BTreeMap<&str, &PluginAttachment> =
        new_keyed.iter().map(|(k, a)| (k.as_str(), *a)).collect();
    for (key, n) in &new_keyed {
        let o = old_map.get(key.as_str()).copied();
        if o == Some(*n) {
            continue;
        }
        let entry_base = format!("{base}.plugins[{key}]");
        let site = Site {
            base: &entry_base,
            section: Section::Plugins,
            item: Some(key.as_str()),
        };
        match o {
            None => whole_entry(out, &site, ChangeKind::Added, None, Some(to_value(*n))),
            Some(o) => env_changes(out, &site, "env", &o.env, &n.env),
        }
    }
    for (key, o) in &old_keyed {
        if !new_map.contains_key(key.as_str()) {
            let entry_base = format!("{base}.plugins[{key}]");
            let site = Site {
                base: &entry_base,
                section: Section::Plugins,
                item: Some(key.as_str()),
            };
            whole_entry(out, &site, ChangeKind::Removed, Some(to_value(*o)), None);
        }
    }
}

fn metadata_changes(out: &mut Vec<FieldChange>, from: &TemplateVersion, to: &TemplateVersion) {
    let site = Site::top(Section::Metadata);
    let pairs: [(&str, Value, Value); 10] = [
        (
            "version",
            Value::String(from.version.clone()),
            Value::String(to.version.clone()),
        ),
        ("alias", opt_string(&from.alias), opt_string(&to.alias)),
        (
            "release_notes",
            Value::String(from.release_notes.clone()),
            Value::String(to.release_notes.clone()),
        ),
        (
            "release_state",
            to_value(&from.release_state),
            to_value(&to.release_state),
        ),
        (
            "created_at",
            opt_string(&from.created_at),
            opt_string(&to.created_at),
        ),
        (
            "template.name",
            Value::String(from.template.name.clone()),
            Value::String(to.template.name.clone()),
        ),
        (
            "template.description",
            Value::String(from.template.description.clone()),
            Value::String(to.template.description.clone()),
        ),
        (
            "template.scope",
            to_value(&from.template.scope),
            to_value(&to.template.scope),
        ),
        (
            "template.tags",
            strings(&from.template.tags),
            strings(&to.template.tags),
        ),
        (
            "template.logo",
            opt_string(&from.template.logo),
            opt_string(&to.template.logo),
        ),
    ];
    for (field, o, n) in pairs {
        leaf(out, &site, Some(field), Some(o), Some(n));
    }
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn opt_string(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}
