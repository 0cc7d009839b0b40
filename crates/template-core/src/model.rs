//! The template model: one [`TemplateVersion`] document describes one
//! published version of an application template and every component in it.
//!
//! The layout is documented field by field here and in the generated JSON
//! Schema (`schema/template-version.schema.json`). Values that need checking
//! beyond their type (versions, image references, quantities) are kept as the
//! user wrote them and checked by [`crate::validate()`], so that one pass can
//! report every problem with its path instead of stopping at the first.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a secret value is shown as wherever it would be printed: diffs,
/// plans, renders and `Debug` output.
pub const MASK: &str = "<secret>";

/// The `format` tag every document of this layout carries.
pub const DOCUMENT_FORMAT: &str = "apptemplate.io/v1";

/// One version of an application template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateVersion {
    /// Document format tag; must be `apptemplate.io/v1`.
    pub format: String,
    /// The template this version belongs to.
    pub template: TemplateInfo,
    /// Semantic version of this release, e.g. `2.1.0`. Upgrades follow
    /// semantic-version order.
    pub version: String,
    /// Short human name of the version, e.g. "advanced edition".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// What changed in this version, for the people who install it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release_notes: String,
    /// Where the version is in its life: draft, testing, released, deprecated.
    /// Not part of the content digest.
    #[serde(default)]
    pub release_state: ReleaseState,
    /// When the version was created (RFC 3339), supplied by the caller.
    /// Not part of the content digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Module groups a customer can switch on or off at install time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<Module>,
    /// App-level configuration shared by several components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_groups: Vec<ConfigGroup>,
    /// Plugins (sidecars and init containers) that components can attach.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<Plugin>,
    /// The components (services, databases, caches) of the application.
    pub components: Vec<Component>,
}

/// Identity and catalogue data of a template, repeated in every version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInfo {
    /// Stable identifier of the template across all its versions
    /// (lowercase letters, digits and `-`, at most 63 characters).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What the application does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Who may see the template in a market.
    #[serde(default)]
    pub scope: Scope,
    /// Category tags (architecture, industry, deployment style...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Digest (`sha256:<hex>`) of the logo image blob stored beside the
    /// template in a market or package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

/// Visibility of a template in a market.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Visible to one team.
    #[default]
    Team,
    /// Visible to every team of the enterprise.
    Enterprise,
}

/// Life cycle of a version. Transitions are checked by
/// [`crate::set_release_state`].
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Being assembled; may change freely.
    #[default]
    Draft,
    /// Handed to testers.
    Testing,
    /// Approved for delivery; its content can never be overwritten.
    Released,
    /// Should no longer be installed; kept for rollbacks and records.
    Deprecated,
}

impl ReleaseState {
    /// Every state, in life-cycle order.
    pub const ALL: [ReleaseState; 4] = [
        ReleaseState::Draft,
        ReleaseState::Testing,
        ReleaseState::Released,
        ReleaseState::Deprecated,
    ];

    /// The state's name as documents write it (`draft`, `testing`,
    /// `released`, `deprecated`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Draft => "draft",
            ReleaseState::Testing => "testing",
            ReleaseState::Released => "released",
            ReleaseState::Deprecated => "deprecated",
        }
    }
}

impl std::fmt::Display for ReleaseState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A module group: a set of components a customer can select or leave out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Identifier referenced by `components[].module`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What the module adds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether the installer may leave the module out.
    #[serde(default)]
    pub optional: bool,
    /// Whether an optional module is selected unless the installer says
    /// otherwise. Required modules are always installed.
    #[serde(default = "default_true")]
    pub enabled_by_default: bool,
}

/// Configuration shared by several components of the application: its
/// variables are injected into every listed component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigGroup {
    /// Unique name of the group.
    pub name: String,
    /// Keys of the components that receive the group's variables.
    pub components: Vec<String>,
    /// The shared variables.
    pub env: Vec<EnvVar>,
}

/// A plugin that components attach: a sidecar or init container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plugin {
    /// Identifier referenced by `components[].plugins[].plugin`.
    pub key: String,
    /// Display name.
    pub name: String,
    /// How the plugin runs beside the component.
    #[serde(default)]
    pub kind: PluginKind,
    /// Container image, pinned by digest.
    pub image: String,
    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Default environment of the plugin container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Configuration files of the plugin container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_files: Vec<ConfigFile>,
}

/// How a plugin container runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    /// Runs for the whole life of the component's pods.
    #[default]
    Sidecar,
    /// Runs to completion before the component starts.
    Init,
}

/// One deployable part of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Stable identity across versions (DNS label). Components are matched
    /// between versions by this key, never by display name.
    pub key: String,
    /// Display name.
    pub name: String,
    /// What the component does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Module group the component belongs to; none means always installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Container image, pinned by digest:
    /// `registry/repository[:tag]@sha256:<64 hex>`.
    pub image: String,
    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Ports the component listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Environment variables of the component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Variables exported to every component that depends on this one
    /// (e.g. `MYSQL_HOST`, `MYSQL_PASSWORD`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection_info: Vec<ConnectionVar>,
    /// Files mounted into the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_files: Vec<ConfigFile>,
    /// Persistent volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Keys of the components this one needs; they are installed and
    /// upgraded first, and their connection info is injected here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Replicas and resources.
    #[serde(default, skip_serializing_if = "Scaling::is_default")]
    pub scaling: Scaling,
    /// Health probes.
    #[serde(default, skip_serializing_if = "Probes::is_empty")]
    pub probes: Probes,
    /// Labels put on everything rendered for the component.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Plugins attached to the component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginAttachment>,
}

/// A port a component listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Port name, unique in the application (DNS label of at most 15
    /// characters); dependants see it as `<NAME>_HOST` / `<NAME>_PORT`.
    pub name: String,
    /// Container port number.
    pub port: u32,
    /// Protocol spoken on the port.
    #[serde(default)]
    pub protocol: Protocol,
    /// Reachable by the other components of the application.
    #[serde(default = "default_true")]
    pub inner: bool,
    /// Reachable from outside the application.
    #[serde(default)]
    pub outer: bool,
}

/// Protocol of a port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Plain TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// HTTP over TCP.
    Http,
    /// gRPC over TCP.
    Grpc,
}

/// An environment variable with its default value. `Debug` masks the
/// value of a secret variable.
#[derive(Clone, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Default value.
    #[serde(default)]
    pub value: String,
    /// What the variable controls.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether the installer may change the value.
    #[serde(default = "default_true")]
    pub editable: bool,
    /// Whether the value is confidential: masked in diffs and plans.
    #[serde(default)]
    pub secret: bool,
}

/// A variable exported to dependants: a fixed value or a secret generated
/// at install time. `Debug` masks a confidential fixed value.
#[derive(Clone, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionVar {
    /// Variable name as seen by dependants.
    pub name: String,
    /// Fixed value; exactly one of `value` and `generate` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Generate a random secret at install time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<SecretRule>,
    /// What the variable is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether a fixed value is confidential (generated ones always are).
    #[serde(default)]
    pub secret: bool,
}

/// Whether two texts are equal, without calling the C library's `memcmp`
/// when both are empty.
///
/// `==` on strings calls `memcmp` even for zero bytes, passing the
/// dangling address an empty `String` holds. glibc's AVX-512 `memcmp`
/// starts with a masked load at that address; on an unmapped page the
/// processor completes it through a fault-suppression assist: 120 ns per
/// comparison of two empty strings on the machines this project runs on
/// (Debian 12's glibc 2.36), where two equal 9-byte texts take 2.5 ns.
/// Most variables have no description, and a plan or diff compares every
/// variable of every component, so this made comparing a 1,000-component
/// template seven times slower than it needed to be.
#[inline]
pub(crate) fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// Field by field, texts compared with `same_text`. The destructuring
/// makes a field added later a compile error here until it is compared.
impl PartialEq for EnvVar {
    fn eq(&self, other: &Self) -> bool {
        let EnvVar {
            name,
            value,
            description,
            editable,
            secret,
        } = self;
        same_text(name, &other.name)
            && same_text(value, &other.value)
            && same_text(description, &other.description)
            && *editable == other.editable
            && *secret == other.secret
    }
}

/// As for [`EnvVar`].
impl PartialEq for ConnectionVar {
    fn eq(&self, other: &Self) -> bool {
        let ConnectionVar {
            name,
            value,
            generate,
            description,
            secret,
        } = self;
        same_text(name, &other.name)
            && match (value, &other.value) {
                (Some(a), Some(b)) => same_text(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
            && *generate == other.generate
            && same_text(description, &other.description)
            && *secret == other.secret
    }
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value: &dyn std::fmt::Debug = if self.secret { &MASK } else { &self.value };
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", value)
            .field("description", &self.description)
            .field("editable", &self.editable)
            .field("secret", &self.secret)
            .finish()
    }
}

impl std::fmt::Debug for ConnectionVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = self.value.as_ref().map(|_| MASK);
        let value: &dyn std::fmt::Debug = if self.secret { &masked } else { &self.value };
        f.debug_struct("ConnectionVar")
            .field("name", &self.name)
            .field("value", value)
            .field("generate", &self.generate)
            .field("description", &self.description)
            .field("secret", &self.secret)
            .finish()
    }
}

/// How to generate a secret at install time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRule {
    /// Number of characters, 8 to 256.
    pub length: u32,
    /// Characters to draw from.
    #[serde(default)]
    pub alphabet: Alphabet,
    /// Components whose rules name the same group share one generated
    /// value (e.g. the MySQL root password and the services using it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Character set of a generated secret.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alphabet {
    /// `A-Z a-z 0-9`.
    #[default]
    Alphanumeric,
    /// `a-z 0-9`, for systems that fold case.
    LowerAlphanumeric,
    /// `0-9 a-f`.
    Hex,
    /// Alphanumeric plus `-_.~!@#%^*+=`, safe in URLs and shells when quoted.
    Symbols,
}

impl Alphabet {
    /// The name the format uses: `alphanumeric`, `lower_alphanumeric`,
    /// `hex`, `symbols`.
    pub fn as_str(self) -> &'static str {
        match self {
            Alphabet::Alphanumeric => "alphanumeric",
            Alphabet::LowerAlphanumeric => "lower_alphanumeric",
            Alphabet::Hex => "hex",
            Alphabet::Symbols => "symbols",
        }
    }

    /// The characters this alphabet draws from.
    pub fn characters(self) -> &'static str {
        match self {
            Alphabet::Alphanumeric => {
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            }
            Alphabet::LowerAlphanumeric => "abcdefghijklmnopqrstuvwxyz0123456789",
            Alphabet::Hex => "0123456789abcdef",
            Alphabet::Symbols => {
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!@#%^*+="
            }
        }
    }
}

impl std::fmt::Display for Alphabet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Absolute path of the file inside the container.
    pub mount_path: String,
    /// File content.
    pub content: String,
    /// Permission bits in octal, e.g. `"0644"`.
    #[serde(default = "default_file_mode")]
    pub mode: String,
}

/// A persistent volume, or a mount of another component's volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Volume name, unique in the component (DNS label).
    pub name: String,
    /// Absolute mount path inside the container.
    pub mount_path: String,
    /// Requested size as a Kubernetes quantity, e.g. `10Gi`. Required
    /// unless the volume is shared from another component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
    /// How pods may mount the volume.
    #[serde(default)]
    pub access_mode: AccessMode,
    /// Preferred storage class; environments may override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Mount another component's volume instead of creating one:
    /// `<component>/<volume>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_from: Option<String>,
}

/// Access mode of a volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessMode {
    /// Mounted read-write by one node.
    #[default]
    ReadWriteOnce,
    /// Mounted read-write by many nodes.
    ReadWriteMany,
    /// Mounted read-only by many nodes.
    ReadOnlyMany,
}

/// Replica bounds and resources of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    /// Fewest replicas.
    #[serde(default = "default_one")]
    pub min_replicas: u32,
    /// Most replicas; above `min_replicas` the component autoscales.
    #[serde(default = "default_one")]
    pub max_replicas: u32,
    /// Replicas added or removed per scaling step.
    #[serde(default = "default_one")]
    pub step: u32,
    /// Smallest memory the component can run with (quantity, e.g. `512Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_memory: Option<String>,
    /// Requested CPU (quantity, e.g. `250m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_request: Option<String>,
    /// CPU limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<String>,
    /// Requested memory (quantity, e.g. `512Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_request: Option<String>,
    /// Memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit: Option<String>,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            min_replicas: 1,
            max_replicas: 1,
            step: 1,
            min_memory: None,
            cpu_request: None,
            cpu_limit: None,
            memory_request: None,
            memory_limit: None,
        }
    }
}

impl Scaling {
    fn is_default(&self) -> bool {
        *self == Scaling::default()
    }
}

/// Liveness and readiness probes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    /// Restart the container when this fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
    /// Send no traffic until this succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
}

impl Probes {
    fn is_empty(&self) -> bool {
        self.liveness.is_none() && self.readiness.is_none()
    }
}

/// A health probe; exactly one of `tcp`, `http` and `exec` is its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Open a TCP connection to this port of the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// Send an HTTP GET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// Run a command in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
    /// Seconds before the first probe.
    #[serde(default)]
    pub initial_delay_seconds: u32,
    /// Seconds between probes.
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    /// Seconds before one probe times out.
    #[serde(default = "default_one")]
    pub timeout_seconds: u32,
    /// Consecutive failures before the probe counts as failed.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
}

/// TCP probe target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    /// A port number declared in the component's `ports`.
    pub port: u32,
}

/// HTTP probe target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// A port number declared in the component's `ports`.
    pub port: u32,
    /// Request path, starting with `/`.
    pub path: String,
}

/// Command probe target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecProbe {
    /// Command and arguments; exit status 0 means healthy.
    pub command: Vec<String>,
}

/// A plugin attached to a component, with per-component settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginAttachment {
    /// Key of a plugin declared in the version's `plugins`.
    pub plugin: String,
    /// Variables that override or extend the plugin's defaults here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

impl TemplateVersion {
    /// The component with this key.
    pub fn component(&self, key: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.key == key)
    }

    /// The plugin with this key.
    pub fn plugin(&self, key: &str) -> Option<&Plugin> {
        self.plugins.iter().find(|p| p.key == key)
    }

    /// The module with this key.
    pub fn module(&self, key: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.key == key)
    }
}

impl Component {
    /// Whether the component keeps state of its own (owns a volume that is
    /// not mounted from another component).
    pub fn is_stateful(&self) -> bool {
        self.volumes.iter().any(|v| v.shared_from.is_none())
    }
}

fn default_true() -> bool {
    true
}

fn default_one() -> u32 {
    1
}

fn default_period() -> u32 {
    10
}

fn default_failure_threshold() -> u32 {
    3
}

fn default_file_mode() -> String {
    "0644".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_the_format_names() {
        for state in [
            ReleaseState::Draft,
            ReleaseState::Testing,
            ReleaseState::Released,
            ReleaseState::Deprecated,
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.to_string());
        }
        for alphabet in [
            Alphabet::Alphanumeric,
            Alphabet::LowerAlphanumeric,
            Alphabet::Hex,
            Alphabet::Symbols,
        ] {
            assert_eq!(
                serde_json::to_value(alphabet).unwrap(),
                alphabet.to_string()
            );
        }
    }

    /// Every pair of variables among ones differing in one field each (texts
    /// empty or not, a fixed value absent, empty or set) is equal exactly
    /// when their JSON is.
    #[test]
    fn variables_are_equal_exactly_when_their_json_is() {
        fn agree<T: PartialEq + Serialize>(all: &[T]) {
            for a in all {
                for b in all {
                    let json = serde_json::to_value(a).unwrap() == serde_json::to_value(b).unwrap();
                    assert_eq!(
                        a == b,
                        json,
                        "{}\n{}",
                        serde_json::to_string(a).unwrap(),
                        serde_json::to_string(b).unwrap()
                    );
                }
            }
        }
        let env = EnvVar {
            name: "A".into(),
            value: String::new(),
            description: String::new(),
            editable: true,
            secret: false,
        };
        let mut envs = vec![env.clone()];
        for text in ["", "x", "xy"] {
            envs.push(EnvVar {
                name: text.into(),
                ..env.clone()
            });
            envs.push(EnvVar {
                value: text.into(),
                ..env.clone()
            });
            envs.push(EnvVar {
                description: text.into(),
                ..env.clone()
            });
        }
        envs.push(EnvVar {
            editable: false,
            ..env.clone()
        });
        envs.push(EnvVar {
            secret: true,
            ..env.clone()
        });
        agree(&envs);

        let var = ConnectionVar {
            name: "A".into(),
            value: None,
            generate: None,
            description: String::new(),
            secret: false,
        };
        let mut vars = vec![var.clone()];
        for text in ["", "x", "xy"] {
            vars.push(ConnectionVar {
                name: text.into(),
                ..var.clone()
            });
            vars.push(ConnectionVar {
                value: Some(text.into()),
                ..var.clone()
            });
            vars.push(ConnectionVar {
                description: text.into(),
                ..var.clone()
            });
        }
        vars.push(ConnectionVar {
            secret: true,
            ..var.clone()
        });
        vars.push(ConnectionVar {
            generate: Some(SecretRule {
                length: 16,
                alphabet: Alphabet::default(),
                group: None,
            }),
            ..var.clone()
        });
        agree(&vars);
    }
}
