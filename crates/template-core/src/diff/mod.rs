//! Structured diff between two versions of one template: which components
//! were added, removed or changed, and for each change its path in the
//! document, the old and the new value.
//!
//! Lists with an identity are matched by it, never by position: components
//! by key, env vars and connection info by name, ports and volumes by name,
//! config files by mount path, plugins by key, labels by key. A config file
//! whose content changed carries a line diff instead of both texts.
//!
//! Values marked secret (env vars and connection info with `secret: true`,
//! and generated connection info) never appear in a diff: they are replaced
//! by [`MASK`], and the change is flagged [`FieldChange::secret`], so both
//! renderings (text and JSON) are safe to show and to store.

mod lines;
pub(crate) mod render;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use lines::{CONTEXT_LINES, DiffLine, LineHunk, LineKind, line_diff};

use crate::error::{Error, Result};
use crate::model::{
    Component, ConfigFile, ConfigGroup, ConnectionVar, EnvVar, Module, Plugin, PluginAttachment,
    Port, TemplateVersion, Volume,
};
use crate::name_hash::NameMap;

pub use crate::model::MASK;

/// Everything that differs between two versions of one template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VersionDiff {
    /// Template id shared by both versions.
    pub template: String,
    /// The version compared from.
    pub from_version: String,
    /// The version compared to.
    pub to_version: String,
    /// Version metadata and template catalogue data (version, alias,
    /// release notes, release state, name, description, scope, tags, logo).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<FieldChange>,
    /// Module groups declared, removed or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<FieldChange>,
    /// Plugin definitions declared, removed or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<FieldChange>,
    /// App-level config groups declared, removed or changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_groups: Vec<FieldChange>,
    /// Components added, removed or changed: those of the new version in
    /// its order, then the removed ones in the old order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentDiff>,
}

impl VersionDiff {
    /// Whether the two versions are identical.
    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty()
            && self.modules.is_empty()
            && self.plugins.is_empty()
            && self.config_groups.is_empty()
            && self.components.is_empty()
    }

    /// The diff of one component, if it changed.
    pub fn component(&self, key: &str) -> Option<&ComponentDiff> {
        self.components.iter().find(|c| c.key == key)
    }

    /// Pretty-printed JSON, deterministic: same diff, same bytes.
    pub fn to_json(&self) -> Result<String> {
        to_json(self)
    }

    /// The text rendering for people (also available through `Display`):
    /// grouped per component, secrets masked, config files as line diffs.
    pub fn render_text(&self) -> String {
        self.to_string()
    }
}

/// How one component differs between the versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComponentDiff {
    /// The component's stable key.
    pub key: String,
    /// Added, removed or changed.
    pub status: ChangeKind,
    /// Every field change; for an added or removed component, every field
    /// that has a value.
    pub changes: Vec<FieldChange>,
}

/// One changed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldChange {
    /// Path in the document, e.g. `components[gateway].env[JAVA_OPTS].value`.
    pub path: String,
    /// What part of the template the change is in.
    pub section: Section,
    /// Identity of the list entry (env name, mount path, port name...),
    /// when the change is in a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Field inside the entry or section (`value`, `http.path`...); none
    /// when the whole entry was added or removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The old value; none when added, or when `lines` holds the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The new value; none when removed, or when `lines` holds the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// Whether a value was masked because it is secret.
    #[serde(default, skip_serializing_if = "is_false")]
    pub secret: bool,
    /// Line diff of a changed config file content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineHunk>,
}

/// Kind of a change.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, with different values.
    Changed,
}

/// The part of a template a change belongs to, for grouping and for the
/// upgrade rules that differ per part.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Version number, alias, notes, state, template catalogue data.
    Metadata,
    /// Module group definitions.
    Modules,
    /// Plugin definitions.
    PluginDefinitions,
    /// App-level config groups.
    ConfigGroups,
    /// A component's display name and description.
    Identity,
    /// A component's module membership.
    Module,
    /// Container image.
    Image,
    /// Command and arguments.
    Command,
    /// Ports.
    Ports,
    /// Environment variables.
    Env,
    /// Connection info exported to dependants.
    ConnectionInfo,
    /// Config files.
    ConfigFiles,
    /// Persistent volumes.
    Volumes,
    /// Dependencies.
    Dependencies,
    /// Replicas and resources.
    Scaling,
    /// Health probes.
    Probes,
    /// Labels.
    Labels,
    /// Plugin attachments.
    Plugins,
}

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

    let mut components = Vec::new();
    let old_keyed = keyed_names(&from.components, |c| c.key.as_str());
    let new_keyed = keyed_names(&to.components, |c| c.key.as_str());
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
        if old == Some(*new) {
            continue;
        }
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

    Ok(VersionDiff {
        template: to.template.id.clone(),
        from_version: from.version.clone(),
        to_version: to.version.clone(),
        metadata,
        modules,
        plugins,
        config_groups,
        components,
    })
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
    if old == new {
        return out;
    }
    let base = format!("components[{key}]");
    let site = |section| Site {
        base: base.clone(),
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

    let empty = Component::empty_lists();
    let oc = old.unwrap_or(&empty);
    let nc = new.unwrap_or(&empty);
    keyed_entries(
        &mut out,
        &site(Section::Ports),
        "ports",
        &oc.ports,
        &nc.ports,
        |p: &Port| p.name.as_str(),
    );
    env_changes(&mut out, &base, "env", Section::Env, &oc.env, &nc.env);
    keyed_entries(
        &mut out,
        &site(Section::ConnectionInfo),
        "connection_info",
        &oc.connection_info,
        &nc.connection_info,
        |v: &ConnectionVar| v.name.as_str(),
    );
    config_file_changes(
        &mut out,
        &base,
        "config_files",
        &oc.config_files,
        &nc.config_files,
    );
    keyed_entries(
        &mut out,
        &site(Section::Volumes),
        "volumes",
        &oc.volumes,
        &nc.volumes,
        |v: &Volume| v.name.as_str(),
    );
    set_changes(
        &mut out,
        &site(Section::Dependencies),
        "depends_on",
        &oc.depends_on,
        &nc.depends_on,
    );
    // Typed comparison first: serializing is the expensive part.
    if old.map(|c| &c.scaling) != new.map(|c| &c.scaling) {
        let o = old.map(|c| to_value(&c.scaling));
        let n = new.map(|c| to_value(&c.scaling));
        let field = Some("scaling".to_owned());
        value_changes(
            &mut out,
            &site(Section::Scaling),
            field,
            o.as_ref(),
            n.as_ref(),
            false,
        );
    }
    if old.map(|c| &c.probes) != new.map(|c| &c.probes) {
        let o = old.map(|c| to_value(&c.probes));
        let n = new.map(|c| to_value(&c.probes));
        let field = Some("probes".to_owned());
        value_changes(
            &mut out,
            &site(Section::Probes),
            field,
            o.as_ref(),
            n.as_ref(),
            false,
        );
    }
    map_changes(
        &mut out,
        &site(Section::Labels),
        "labels",
        &oc.labels,
        &nc.labels,
    );
    attachment_changes(&mut out, &base, &oc.plugins, &nc.plugins);
    out
}

/// Changes between two env var lists at `<base>.<list>[NAME]`; values of
/// secret variables are masked.
pub(crate) fn env_changes(
    out: &mut Vec<FieldChange>,
    base: &str,
    list: &str,
    section: Section,
    old: &[EnvVar],
    new: &[EnvVar],
) {
    let site = Site {
        base: base.to_owned(),
        section,
        item: None,
    };
    keyed_entries(out, &site, list, old, new, |e: &EnvVar| e.name.as_str());
}

/// Changes between two config file lists, matched by mount path, with a
/// line diff of changed contents.
pub(crate) fn config_file_changes(
    out: &mut Vec<FieldChange>,
    base: &str,
    list: &str,
    old: &[ConfigFile],
    new: &[ConfigFile],
) {
    let site = Site {
        base: base.to_owned(),
        section: Section::ConfigFiles,
        item: None,
    };
    keyed_entries(out, &site, list, old, new, |f: &ConfigFile| {
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
            base: item_base.clone(),
            section,
            item: Some(key.clone()),
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
                let env_site = Site {
                    base: item_base.clone(),
                    section,
                    item: Some(key.clone()),
                };
                keyed_entries(out, &env_site, "env", &o.env, &n.env, |e: &EnvVar| {
                    e.name.as_str()
                });
                keyed_entries(
                    out,
                    &env_site,
                    "config_files",
                    &o.config_files,
                    &n.config_files,
                    |f: &ConfigFile| f.mount_path.as_str(),
                );
            }
        }
    }
    for (key, o) in &old_keyed {
        if !new_map.contains_key(key.as_str()) {
            let site = Site {
                base: format!("{list}[{key}]"),
                section,
                item: Some(key.clone()),
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
            base: base.clone(),
            section: Section::ConfigGroups,
            item: Some(key.clone()),
        };
        match o {
            None => whole_entry(out, &site, ChangeKind::Added, None, Some(to_value(*n))),
            Some(o) => {
                set_changes(out, &site, "components", &o.components, &n.components);
                keyed_entries(out, &site, "env", &o.env, &n.env, |e: &EnvVar| {
                    e.name.as_str()
                });
            }
        }
    }
    for (key, o) in &old_keyed {
        if !new_map.contains_key(key.as_str()) {
            let site = Site {
                base: format!("config_groups[{key}]"),
                section: Section::ConfigGroups,
                item: Some(key.clone()),
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
        let site = Site {
            base: format!("{base}.plugins[{key}]"),
            section: Section::Plugins,
            item: Some(key.clone()),
        };
        match o {
            None => whole_entry(out, &site, ChangeKind::Added, None, Some(to_value(*n))),
            Some(o) => keyed_entries(out, &site, "env", &o.env, &n.env, |e: &EnvVar| {
                e.name.as_str()
            }),
        }
    }
    for (key, o) in &old_keyed {
        if !new_map.contains_key(key.as_str()) {
            let site = Site {
                base: format!("{base}.plugins[{key}]"),
                section: Section::Plugins,
                item: Some(key.clone()),
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

/// Where changes are being collected: the path prefix, the section and
/// the list entry they belong to.
#[derive(Clone)]
struct Site {
    base: String,
    section: Section,
    item: Option<String>,
}

impl Site {
    fn top(section: Section) -> Site {
        Site {
            base: String::new(),
            section,
            item: None,
        }
    }

    fn path(&self, field: Option<&str>) -> String {
        match (self.base.is_empty(), field) {
            (_, None) => self.base.clone(),
            (true, Some(f)) => f.to_owned(),
            (false, Some(f)) => format!("{}.{f}", self.base),
        }
    }
}

/// Pairs each entry with its identity; repeated identities (possible only
/// in invalid documents) get `#2`, `#3`... so nothing is lost or merged.
fn keyed<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<(String, &T)> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let k = key(item);
        let n = seen.entry(k).or_insert(0);
        *n += 1;
        let name = if *n == 1 {
            k.to_owned()
        } else {
            format!("{k}#{n}")
        };
        out.push((name, item));
    }
    out
}

/// [`keyed`], borrowing each name that needs no `#n` suffix.
fn keyed_names<'a, T>(
    items: &'a [T],
    key: impl Fn(&'a T) -> &'a str,
) -> Vec<(Cow<'a, str>, &'a T)> {
    let mut seen: NameMap<'a, usize> = NameMap::with_len(items.len());
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let k = key(item);
        let n = seen.get_or_default(k);
        *n += 1;
        let name = if *n == 1 {
            Cow::Borrowed(k)
        } else {
            Cow::Owned(format!("{k}#{n}"))
        };
        out.push((name, item));
    }
    out
}

/// Changes of a list whose entries have an identity, at `<base>.<list>[id]`.
fn keyed_entries<T: Serialize + PartialEq>(
    out: &mut Vec<FieldChange>,
    site: &Site,
    list: &str,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> &str,
) {
    if old == new {
        return;
    }
    let list_path = site.path(Some(list));
    let entry_site = |k: &str| Site {
        base: format!("{list_path}[{k}]"),
        section: site.section,
        item: Some(k.to_owned()),
    };
    let changed = |out: &mut Vec<FieldChange>, k: &str, o: &T, n: &T| {
        let (ov, nv) = (to_value(o), to_value(n));
        let secret = is_secret_object(&ov) || is_secret_object(&nv);
        value_changes(out, &entry_site(k), None, Some(&ov), Some(&nv), secret);
    };
    let new_keyed = keyed_names(new, &key);
    // The usual case, the same unique keys in the same order: compare entry
    // by entry, as matching by key would.
    if old.len() == new.len()
        && new_keyed.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_)))
        && old.iter().zip(new).all(|(o, n)| key(o) == key(n))
    {
        for ((k, n), o) in new_keyed.iter().zip(old) {
            if o != *n {
                changed(out, k, o, n);
            }
        }
        return;
    }
    let old_keyed = keyed_names(old, &key);
    let mut old_map: NameMap<'_, &T> = NameMap::with_len(old_keyed.len());
    for (k, t) in &old_keyed {
        old_map.insert(k, *t);
    }
    let mut new_map: NameMap<'_, &T> = NameMap::with_len(new_keyed.len());
    for (k, t) in &new_keyed {
        new_map.insert(k, *t);
    }
    for (k, n) in &new_keyed {
        match old_map.get(k) {
            None => whole_entry(
                out,
                &entry_site(k),
                ChangeKind::Added,
                None,
                Some(to_value(*n)),
            ),
            Some(o) if *o != *n => changed(out, k, o, n),
            Some(_) => {}
        }
    }
    for (k, o) in &old_keyed {
        if !new_map.contains_key(k) {
            whole_entry(
                out,
                &entry_site(k),
                ChangeKind::Removed,
                Some(to_value(*o)),
                None,
            );
        }
    }
}

/// A whole list entry added or removed; secrets inside are masked.
fn whole_entry(
    out: &mut Vec<FieldChange>,
    site: &Site,
    kind: ChangeKind,
    old: Option<Value>,
    new: Option<Value>,
) {
    let mut secret = false;
    let mut mask = |v: Option<Value>| {
        v.map(|mut v| {
            secret |= mask_secrets(&mut v);
            v
        })
    };
    let old = mask(old);
    let new = mask(new);
    out.push(FieldChange {
        path: site.path(None),
        section: site.section,
        item: site.item.clone(),
        field: None,
        kind,
        old,
        new,
        secret,
        lines: Vec::new(),
    });
}

/// Changes between two values: objects are compared key by key down to
/// their leaves; anything else is one leaf. `secret` masks a `value` key
/// directly inside.
fn value_changes(
    out: &mut Vec<FieldChange>,
    site: &Site,
    field: Option<String>,
    old: Option<&Value>,
    new: Option<&Value>,
    secret: bool,
) {
    if old == new {
        return;
    }
    if let (Some(Value::Object(o)), Some(Value::Object(n))) = (old, new) {
        let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for k in keys {
            let sub = match &field {
                Some(f) => format!("{f}.{k}"),
                None => k.clone(),
            };
            let mask_here = secret && k == "value" && field.is_none();
            if mask_here && o.get(k) != n.get(k) {
                let masked = |v: Option<&Value>| {
                    v.filter(|v| !is_absent(v))
                        .map(|_| Value::String(MASK.to_owned()))
                };
                let (mo, mn) = (masked(o.get(k)), masked(n.get(k)));
                if let Some(kind) = kind_of(mo.as_ref(), mn.as_ref(), true) {
                    out.push(FieldChange {
                        path: site.path(Some(&sub)),
                        section: site.section,
                        item: site.item.clone(),
                        field: Some(sub),
                        kind,
                        old: mo,
                        new: mn,
                        secret: true,
                        lines: Vec::new(),
                    });
                }
                continue;
            }
            value_changes(out, site, Some(sub), o.get(k), n.get(k), false);
        }
        return;
    }
    leaf(out, site, field.as_deref(), old.cloned(), new.cloned());
}

/// One leaf change, or nothing when the values are equal. Empty values
/// (null, "", [], {}) count as absent.
fn leaf(
    out: &mut Vec<FieldChange>,
    site: &Site,
    field: Option<&str>,
    old: Option<Value>,
    new: Option<Value>,
) {
    let old = old.filter(|v| !is_absent(v));
    let new = new.filter(|v| !is_absent(v));
    let Some(kind) = kind_of(old.as_ref(), new.as_ref(), false) else {
        return;
    };
    let mut secret = false;
    let mut lines = Vec::new();
    let (mut old, mut new) = (old, new);
    if site.section == Section::ConfigFiles
        && field == Some("content")
        && let (Some(Value::String(o)), Some(Value::String(n))) = (&old, &new)
    {
        lines = line_diff(o, n);
        old = None;
        new = None;
    }
    for v in [&mut old, &mut new].into_iter().flatten() {
        secret |= mask_secrets(v);
    }
    out.push(FieldChange {
        path: site.path(field),
        section: site.section,
        item: site.item.clone(),
        field: field.map(str::to_owned),
        kind,
        old,
        new,
        secret,
        lines,
    });
}

fn kind_of(old: Option<&Value>, new: Option<&Value>, force_changed: bool) -> Option<ChangeKind> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(ChangeKind::Added),
        (Some(_), None) => Some(ChangeKind::Removed),
        (Some(o), Some(n)) if o != n || force_changed => Some(ChangeKind::Changed),
        _ => None,
    }
}

/// Changes of a set of strings (dependencies): one entry per key added or
/// removed, at `<base>.<list>[key]`.
fn set_changes(
    out: &mut Vec<FieldChange>,
    site: &Site,
    list: &str,
    old: &[String],
    new: &[String],
) {
    if old == new {
        return;
    }
    let o: BTreeSet<&String> = old.iter().collect();
    let n: BTreeSet<&String> = new.iter().collect();
    let list_path = site.path(Some(list));
    for (kind, set, other) in [(ChangeKind::Added, &n, &o), (ChangeKind::Removed, &o, &n)] {
        for k in set.difference(other) {
            let value = Some(Value::String((*k).clone()));
            out.push(FieldChange {
                path: format!("{list_path}[{k}]"),
                section: site.section,
                item: Some((*k).clone()),
                field: None,
                kind,
                old: if kind == ChangeKind::Removed {
                    value.clone()
                } else {
                    None
                },
                new: if kind == ChangeKind::Added {
                    value
                } else {
                    None
                },
                secret: false,
                lines: Vec::new(),
            });
        }
    }
}

/// Changes of a string map (labels), at `<base>.<map>[key]`.
fn map_changes(
    out: &mut Vec<FieldChange>,
    site: &Site,
    map: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) {
    if old == new {
        return;
    }
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let map_path = site.path(Some(map));
    for k in keys {
        let entry = Site {
            base: format!("{map_path}[{k}]"),
            section: site.section,
            item: Some(k.clone()),
        };
        leaf(
            out,
            &entry,
            None,
            old.get(k).map(|v| Value::String(v.clone())),
            new.get(k).map(|v| Value::String(v.clone())),
        );
    }
}

/// Replaces secret values inside `v` (objects with `secret: true` or a
/// `generate` rule) by [`MASK`]; returns whether anything was masked.
pub(crate) fn mask_secrets(v: &mut Value) -> bool {
    match v {
        Value::Object(m) => {
            let mut masked = false;
            let secret = m.get("secret") == Some(&Value::Bool(true)) || m.contains_key("generate");
            if secret
                && let Some(value) = m.get_mut("value")
                && !is_absent(value)
            {
                *value = Value::String(MASK.to_owned());
                masked = true;
            }
            for child in m.values_mut() {
                masked |= mask_secrets(child);
            }
            masked
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, i| mask_secrets(i) | acc),
        _ => false,
    }
}

fn is_secret_object(v: &Value) -> bool {
    v.get("secret") == Some(&Value::Bool(true)) || v.get("generate").is_some()
}

fn is_absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn opt_string(s: &Option<String>) -> Value {
    s.clone().map(Value::String).unwrap_or(Value::Null)
}

/// Serializes a model value; these types always serialize, and a failure
/// would show as `null` rather than abort a diff.
pub(crate) fn to_value<T: Serialize + ?Sized>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Pretty JSON of any serializable result, as [`Error::Write`] on failure.
pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Write {
        message: e.to_string(),
    })
}

/// A component with no fields set, standing in for the missing side of an
/// added or removed component.
trait EmptyLists {
    fn empty_lists() -> Self;
}

impl EmptyLists for Component {
    fn empty_lists() -> Component {
        Component {
            key: String::new(),
            name: String::new(),
            description: String::new(),
            module: None,
            image: String::new(),
            command: Vec::new(),
            args: Vec::new(),
            ports: Vec::new(),
            env: Vec::new(),
            connection_info: Vec::new(),
            config_files: Vec::new(),
            volumes: Vec::new(),
            depends_on: Vec::new(),
            scaling: Default::default(),
            probes: Default::default(),
            labels: BTreeMap::new(),
            plugins: Vec::new(),
        }
    }
}
