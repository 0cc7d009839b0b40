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
//!
//! The engine walks both versions once: each field is compared typed, and
//! only what differs is turned into JSON values, masked and recorded.

mod changes;
mod engine;
mod lines;
mod lists;
mod masking;
pub(crate) mod render;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use engine::plugin_definition_changes;
pub use engine::{component_changes, diff};
pub use lines::{CONTEXT_LINES, DiffLine, LineHunk, LineKind, line_diff};
pub(crate) use masking::mask_secrets;

use crate::error::{Error, Result};
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

fn is_false(b: &bool) -> bool {
    !*b
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
