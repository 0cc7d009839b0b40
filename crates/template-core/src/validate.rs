//! Validation of a template version: every problem at once, each with its
//! path in the document (`components[gateway].ports[1].port`) and a message
//! that says what to do.
//!
//! Components are addressed by key in paths (`components[gateway]`), or by
//! position (`components[#3]`) when the key itself is unusable; every other
//! list is addressed by position.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::model::{
    AccessMode, Component, ConfigFile, DOCUMENT_FORMAT, EnvVar, Probe, SecretRule, TemplateVersion,
};
use crate::name_hash::NameMap;
pub use crate::problem::{Problem, ProblemKind};
use crate::quantity::parse_quantity;

/// Checks every rule and returns all problems found; empty means valid.
///
/// ```
/// use template_core::{load, validate, Format, LoadOptions, ProblemKind};
/// let doc = br#"{"format": "apptemplate.io/v1",
///   "template": {"id": "demo", "name": "Demo"}, "version": "1.0",
///   "components": [{"key": "web", "name": "Web", "image": "nginx:1.27"}]}"#;
/// let version = load(doc, Format::Json, LoadOptions::default()).unwrap();
/// let problems = validate(&version);
/// assert!(problems.iter().any(|p| p.path == "version" && p.kind == ProblemKind::InvalidVersion));
/// assert!(problems.iter().any(|p| p.path == "components[web].image" && p.kind == ProblemKind::ImageWithoutDigest));
/// ```
pub fn validate(version: &TemplateVersion) -> Vec<Problem> {
    let mut v = Validator::default();
    v.document(version);
    v.problems
}

/// [`validate`], as a `Result`: `Err(Error::Validation)` with every problem.
pub fn ensure_valid(version: &TemplateVersion) -> crate::error::Result<()> {
    let problems = validate(version);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::error::Error::Validation { problems })
    }
}

/// A template version that passed [`validate`]: proof carried in the type,
/// so operations given one (such as
/// [`plan_upgrade_validated`](crate::plan::plan_upgrade_validated)) need not
/// check it again. Validate once when a version is published or loaded,
/// then plan as often as needed.
///
/// ```
/// use template_core::{ValidatedVersion, testing::minimal_version};
/// let checked = ValidatedVersion::new(minimal_version("shop", "1.0.0"))?;
/// assert_eq!(checked.version, "1.0.0");
/// let mut broken = minimal_version("shop", "1.0.0");
/// broken.components[0].image = "not an image".into();
/// assert!(ValidatedVersion::new(broken).is_err());
/// # Ok::<(), template_core::Error>(())
/// ```
///
/// It also holds each component's definition once more, shared: plans to
/// it (and the states they lead to) point at these instead of copying
/// them, so planning an upgrade copies no definition, and a plan or state
/// clones and drops in time independent of the definitions' size.
///
/// Cloning one is cheap (it shares the version and the definitions).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedVersion(Arc<TemplateVersion>, Arc<[Arc<Component>]>);

impl ValidatedVersion {
    /// Validates `version`; `Err(Error::Validation)` lists every problem.
    pub fn new(version: TemplateVersion) -> crate::error::Result<Self> {
        ValidatedVersion::from_shared(Arc::new(version))
    }

    /// [`ValidatedVersion::new`] of a version held shared, which it keeps
    /// without a copy.
    pub fn from_shared(version: Arc<TemplateVersion>) -> crate::error::Result<Self> {
        ensure_valid(&version)?;
        let shared = version.components.iter().cloned().map(Arc::new).collect();
        Ok(ValidatedVersion(version, shared))
    }

    /// The version, given back (copied only if it is shared elsewhere).
    pub fn into_inner(self) -> TemplateVersion {
        Arc::unwrap_or_clone(self.0)
    }

    /// The version, shared.
    pub fn shared(&self) -> &Arc<TemplateVersion> {
        &self.0
    }

    /// The shared definitions, in the order of `components`.
    pub(crate) fn shared_components(&self) -> &[Arc<Component>] {
        &self.1
    }
}

impl std::ops::Deref for ValidatedVersion {
    type Target = TemplateVersion;
    fn deref(&self) -> &TemplateVersion {
        &self.0
    }
}

impl AsRef<TemplateVersion> for ValidatedVersion {
    fn as_ref(&self) -> &TemplateVersion {
        &self.0
    }
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn report(&mut self, path: impl fmt::Display, kind: ProblemKind, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            kind,
            message: message.into(),
        });
    }

    fn document(&mut self, doc: &TemplateVersion) {
        if doc.format != DOCUMENT_FORMAT {
            self.report(
                "format",
                ProblemKind::UnknownFormat,
                format!(
                    "format `{}` is not supported; this library reads `{DOCUMENT_FORMAT}` (upgrade apptemplate or convert the document)",
                    doc.format
                ),
            );
        }
        self.template_info(doc);
        if let Err(e) = crate::versions::parse_version(&doc.version) {
            self.report("version", ProblemKind::InvalidVersion, e.to_string());
        }
        if let Some(created) = &doc.created_at
            && time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
                .is_err()
        {
            self.report(
                "created_at",
                ProblemKind::InvalidTimestamp,
                format!("`{created}` is not an RFC 3339 time; write e.g. 2026-11-22T09:30:00Z"),
            );
        }
        self.modules(doc);
        self.plugins(doc);
        if doc.components.is_empty() {
            self.report(
                "components",
                ProblemKind::NoComponents,
                "the version has no components; add at least one",
            );
        }
        let paths = component_paths(doc);
        self.component_keys(doc, &paths);
        for (i, c) in doc.components.iter().enumerate() {
            self.component(doc, c, &paths[i]);
        }
        self.app_port_names(doc, &paths);
        self.dependencies(doc, &paths);
        self.volume_shares(doc, &paths);
        self.secret_groups(doc, &paths);
        self.config_groups(doc);
    }

    fn template_info(&mut self, doc: &TemplateVersion) {
        let t = &doc.template;
        self.dns_label("template.id", &t.id, 63);
        if t.name.trim().is_empty() {
            self.report(
                "template.name",
                ProblemKind::Empty,
                "the template needs a display name",
            );
        }
        if let Some(logo) = &t.logo {
            self.digest("template.logo", logo);
        }
        let mut seen = BTreeSet::new();
        for (i, tag) in t.tags.iter().enumerate() {
            let path = format!("template.tags[{i}]");
            if tag.trim().is_empty() {
                self.report(path, ProblemKind::Empty, "remove the empty tag");
            } else if !seen.insert(tag) {
                self.report(
                    path,
                    ProblemKind::DuplicateKey,
                    format!("tag `{tag}` is listed twice; remove one"),
                );
            }
        }
    }

    fn modules(&mut self, doc: &TemplateVersion) {
        let mut seen = BTreeSet::new();
        for (i, m) in doc.modules.iter().enumerate() {
            let path = format!("modules[{i}]");
            self.dns_label(format_args!("{path}.key"), &m.key, 63);
            if !seen.insert(m.key.as_str()) {
                self.report(
                    format!("{path}.key"),
                    ProblemKind::DuplicateKey,
                    format!(
                        "module key `{}` is declared twice; module keys must be unique",
                        m.key
                    ),
                );
            }
            if m.name.trim().is_empty() {
                self.report(
                    format!("{path}.name"),
                    ProblemKind::Empty,
                    "the module needs a display name",
                );
            }
        }
    }

    fn plugins(&mut self, doc: &TemplateVersion) {
        let mut seen = BTreeSet::new();
        for (i, p) in doc.plugins.iter().enumerate() {
            let path = format!("plugins[{i}]");
            self.dns_label(format_args!("{path}.key"), &p.key, 63);
            if !seen.insert(p.key.as_str()) {
                self.report(
                    format!("{path}.key"),
                    ProblemKind::DuplicateKey,
                    format!(
                        "plugin key `{}` is declared twice; plugin keys must be unique",
                        p.key
                    ),
                );
            }
            if p.name.trim().is_empty() {
                self.report(
                    format!("{path}.name"),
                    ProblemKind::Empty,
                    "the plugin needs a display name",
                );
            }
            self.image(format_args!("{path}.image"), &p.image);
            self.env_list(&path, &p.env, &mut NameMap::with_len(p.env.len()));
            self.config_files(
                &path,
                &p.config_files,
                &mut NameMap::with_len(p.config_files.len()),
            );
        }
    }

    fn component_keys(&mut self, doc: &TemplateVersion, paths: &[String]) {
        let mut seen = NameMap::with_len(doc.components.len());
        for (i, c) in doc.components.iter().enumerate() {
            self.dns_label(format_args!("{}.key", paths[i]), &c.key, 63);
            if let Some(first) = seen.insert(c.key.as_str(), i) {
                self.report(
                    format!("{}.key", paths[i]),
                    ProblemKind::DuplicateKey,
                    format!(
                        "components #{} and #{} both have key `{}`; component keys identify components across versions and must be unique",
                        first + 1,
                        i + 1,
                        c.key
                    ),
                );
            }
        }
    }

    fn component(&mut self, doc: &TemplateVersion, c: &Component, path: &str) {
        if c.name.trim().is_empty() {
            self.report(
                format!("{path}.name"),
                ProblemKind::Empty,
                "the component needs a display name",
            );
        }
        self.image(format_args!("{path}.image"), &c.image);
        if let Some(module) = &c.module
            && doc.module(module).is_none()
        {
            self.report(
                format!("{path}.module"),
                ProblemKind::UnknownModule,
                format!("module `{module}` is not declared in `modules`; declare it or remove the reference"),
            );
        }

        // Ports: numbers in range and unique in the component.
        let mut numbers = BTreeMap::new();
        for (i, p) in c.ports.iter().enumerate() {
            let ppath = ItemPath::new(path, ".ports", i, "");
            self.dns_label(format_args!("{ppath}.name"), &p.name, 15);
            if p.port == 0 || p.port > 65_535 {
                self.report(
                    format_args!("{ppath}.port"),
                    ProblemKind::PortConflict,
                    format!("port {} is out of range; use 1 to 65535", p.port),
                );
            } else if let Some(first) = numbers.insert(p.port, i) {
                self.report(
                    format_args!("{ppath}.port"),
                    ProblemKind::PortConflict,
                    format!(
                        "port {} is already declared by ports[{first}]; declare each port once",
                        p.port
                    ),
                );
            }
        }

        // Variable names are unique across env and connection info.
        let mut names = NameMap::with_len(c.env.len() + c.connection_info.len());
        self.env_list(path, &c.env, &mut names);
        for (i, var) in c.connection_info.iter().enumerate() {
            let site = Site::new(SiteList::ConnectionInfo, i);
            self.env_name(path, site, &var.name, &mut names);
            let vpath = || format!("{path}.connection_info[{i}]");
            match (&var.value, &var.generate) {
                (Some(_), Some(_)) => self.report(
                    vpath(),
                    ProblemKind::InvalidConnectionInfo,
                    "give either `value` or `generate`, not both",
                ),
                (None, None) => self.report(
                    vpath(),
                    ProblemKind::InvalidConnectionInfo,
                    "give a fixed `value` or a `generate` rule for a secret made at install time",
                ),
                (None, Some(rule)) => self.secret_rule(&format!("{}.generate", vpath()), rule),
                (Some(_), None) => {}
            }
        }

        // Mount paths are unique across config files and volumes.
        let mut mounts = NameMap::with_len(c.config_files.len() + c.volumes.len());
        self.config_files(path, &c.config_files, &mut mounts);
        let mut volume_names = BTreeSet::new();
        for (i, vol) in c.volumes.iter().enumerate() {
            let vpath = ItemPath::new(path, ".volumes", i, "");
            self.dns_label(format_args!("{vpath}.name"), &vol.name, 63);
            if !volume_names.insert(vol.name.as_str()) {
                self.report(
                    format_args!("{vpath}.name"),
                    ProblemKind::DuplicateKey,
                    format!("volume `{}` is declared twice in this component", vol.name),
                );
            }
            self.mount_path(
                path,
                Site::new(SiteList::Volume, i),
                &vol.mount_path,
                &mut mounts,
            );
            match (&vol.capacity, &vol.shared_from) {
                (None, None) => self.report(
                    format_args!("{vpath}.capacity"),
                    ProblemKind::InvalidQuantity,
                    "a volume needs a capacity such as `10Gi` (or `shared_from` to mount another component's volume)",
                ),
                (Some(cap), _) => self.quantity(format_args!("{vpath}.capacity"), cap, true),
                (None, Some(_)) => {}
            }
        }

        // Dependencies listed once, not on itself.
        let mut deps = BTreeSet::new();
        for (i, d) in c.depends_on.iter().enumerate() {
            let dpath = ItemPath::new(path, ".depends_on", i, "");
            if d == &c.key {
                self.report(
                    dpath,
                    ProblemKind::DependencyCycle,
                    format!("`{d}` depends on itself; remove the entry"),
                );
            } else if !deps.insert(d.as_str()) {
                self.report(
                    dpath,
                    ProblemKind::DuplicateKey,
                    format!("dependency `{d}` is listed twice; remove one"),
                );
            }
        }

        self.scaling(path, c);
        for (name, probe) in [
            ("liveness", &c.probes.liveness),
            ("readiness", &c.probes.readiness),
        ] {
            if let Some(p) = probe {
                self.probe(&format!("{path}.probes.{name}"), p, c);
            }
        }
        for (k, val) in &c.labels {
            self.label(format_args!("{path}.labels[{k}]"), k, val);
        }
        let mut attached = BTreeSet::new();
        for (i, a) in c.plugins.iter().enumerate() {
            let apath = format!("{path}.plugins[{i}]");
            if doc.plugin(&a.plugin).is_none() {
                self.report(
                    format!("{apath}.plugin"),
                    ProblemKind::UnknownPlugin,
                    format!(
                        "plugin `{}` is not declared in `plugins`; declare it or detach it",
                        a.plugin
                    ),
                );
            }
            if !attached.insert(a.plugin.as_str()) {
                self.report(
                    format!("{apath}.plugin"),
                    ProblemKind::DuplicateKey,
                    format!("plugin `{}` is attached twice; attach it once", a.plugin),
                );
            }
            self.env_list(&apath, &a.env, &mut NameMap::with_len(a.env.len()));
        }
    }

    fn scaling(&mut self, path: &str, c: &Component) {
        let s = &c.scaling;
        let spath = format_args!("{path}.scaling");
        if s.max_replicas == 0 {
            self.report(
                format!("{spath}.max_replicas"),
                ProblemKind::ReplicaRange,
                "max_replicas must be at least 1",
            );
        }
        if s.min_replicas > s.max_replicas {
            self.report(
                format!("{spath}.min_replicas"),
                ProblemKind::ReplicaRange,
                format!(
                    "min_replicas {} is above max_replicas {}; lower min_replicas or raise max_replicas",
                    s.min_replicas, s.max_replicas
                ),
            );
        }
        if s.step == 0 {
            self.report(
                format!("{spath}.step"),
                ProblemKind::ReplicaRange,
                "step must be at least 1",
            );
        }
        let mut parsed = BTreeMap::new();
        for (field, value) in [
            ("min_memory", &s.min_memory),
            ("cpu_request", &s.cpu_request),
            ("cpu_limit", &s.cpu_limit),
            ("memory_request", &s.memory_request),
            ("memory_limit", &s.memory_limit),
        ] {
            if let Some(text) = value {
                self.quantity(format_args!("{spath}.{field}"), text, true);
                if let Some(q) = parse_quantity(text) {
                    parsed.insert(field, q);
                }
            }
        }
        for (request, limit) in [
            ("cpu_request", "cpu_limit"),
            ("memory_request", "memory_limit"),
            ("min_memory", "memory_limit"),
        ] {
            if let (Some(r), Some(l)) = (parsed.get(request), parsed.get(limit))
                && r > l
            {
                self.report(
                    format!("{spath}.{request}"),
                    ProblemKind::ResourceRange,
                    format!(
                        "{request} is above {limit}; a container cannot get more than its limit"
                    ),
                );
            }
        }
    }

    fn probe(&mut self, path: &str, p: &Probe, c: &Component) {
        let targets = usize::from(p.tcp.is_some())
            + usize::from(p.http.is_some())
            + usize::from(p.exec.is_some());
        if targets != 1 {
            self.report(
                path,
                ProblemKind::ProbeWithoutTarget,
                if targets == 0 {
                    "the probe has no target; give one of `tcp`, `http` or `exec`"
                } else {
                    "the probe has several targets; keep exactly one of `tcp`, `http` and `exec`"
                },
            );
        }
        let port = p
            .tcp
            .as_ref()
            .map(|t| (t.port, "tcp"))
            .or(p.http.as_ref().map(|h| (h.port, "http")));
        if let Some((port, kind)) = port
            && !c.ports.iter().any(|d| d.port == port)
        {
            self.report(
                format!("{path}.{kind}.port"),
                ProblemKind::InvalidProbe,
                format!(
                    "port {port} is not declared in the component's `ports`; probe a declared port"
                ),
            );
        }
        if let Some(h) = &p.http
            && !h.path.starts_with('/')
        {
            self.report(
                format!("{path}.http.path"),
                ProblemKind::InvalidProbe,
                "the HTTP path must start with `/`",
            );
        }
        if let Some(e) = &p.exec
            && e.command.iter().all(|a| a.trim().is_empty())
        {
            self.report(
                format!("{path}.exec.command"),
                ProblemKind::ProbeWithoutTarget,
                "the command is empty",
            );
        }
        for (field, value) in [
            ("period_seconds", p.period_seconds),
            ("timeout_seconds", p.timeout_seconds),
            ("failure_threshold", p.failure_threshold),
        ] {
            if value == 0 {
                self.report(
                    format!("{path}.{field}"),
                    ProblemKind::InvalidProbe,
                    format!("{field} must be at least 1"),
                );
            }
        }
    }

    fn app_port_names(&mut self, doc: &TemplateVersion, paths: &[String]) {
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        for (ci, c) in doc.components.iter().enumerate() {
            for (i, p) in c.ports.iter().enumerate() {
                if p.name.is_empty() {
                    continue;
                }
                if let Some(owner) = owners.get(&p.name) {
                    self.report(
                        format!("{}.ports[{i}].name", paths[ci]),
                        ProblemKind::DuplicateKey,
                        if *owner == c.key.as_str() {
                            format!("port name `{}` is used twice in this component; port names must be unique in the application", p.name)
                        } else {
                            format!(
                                "port name `{}` is already claimed by component `{owner}`; dependants see ports as {}_HOST/{}_PORT, so names must be unique in the application",
                                p.name,
                                env_prefix(&p.name),
                                env_prefix(&p.name)
                            )
                        },
                    );
                } else {
                    owners.insert(p.name.clone(), &c.key);
                }
            }
        }
    }

    fn dependencies(&mut self, doc: &TemplateVersion, paths: &[String]) {
        let keys = KeyIndex::new(doc);
        for (ci, c) in doc.components.iter().enumerate() {
            for (i, d) in c.depends_on.iter().enumerate() {
                let dpath = ItemPath::new(&paths[ci], ".depends_on", i, "");
                match keys.get(d.as_str()) {
                    None => self.report(
                        dpath,
                        ProblemKind::UnknownDependency,
                        format!(
                            "no component has key `{d}`; use the key of a component in this version"
                        ),
                    ),
                    Some(target) => {
                        let dep = &doc.components[target];
                        if let Some(reason) = optional_dependency(doc, c, dep) {
                            self.report(dpath, ProblemKind::OptionalDependency, reason);
                        }
                    }
                }
            }
        }
        for cycle in find_cycles(doc, &keys) {
            let first = cycle.first().copied().unwrap_or_default();
            let idx = keys.get(first).unwrap_or(0);
            let mut names: Vec<&str> = cycle.clone();
            names.push(first);
            self.report(
                format!(
                    "{}.depends_on",
                    paths.get(idx).map(String::as_str).unwrap_or("components")
                ),
                ProblemKind::DependencyCycle,
                format!(
                    "dependency cycle {}; remove one of these dependencies",
                    names.join(" → ")
                ),
            );
        }
    }

    fn volume_shares(&mut self, doc: &TemplateVersion, paths: &[String]) {
        for (ci, c) in doc.components.iter().enumerate() {
            for (i, vol) in c.volumes.iter().enumerate() {
                let Some(share) = &vol.shared_from else {
                    continue;
                };
                let vpath = format!("{}.volumes[{i}].shared_from", paths[ci]);
                let Some((owner, name)) = share.split_once('/') else {
                    self.report(
                        vpath,
                        ProblemKind::InvalidVolumeShare,
                        format!("`{share}` is not `<component>/<volume>`"),
                    );
                    continue;
                };
                if owner == c.key {
                    self.report(
                        vpath,
                        ProblemKind::InvalidVolumeShare,
                        "a component cannot share a volume from itself",
                    );
                    continue;
                }
                let Some(source) = doc.component(owner) else {
                    self.report(
                        vpath,
                        ProblemKind::InvalidVolumeShare,
                        format!("no component has key `{owner}`"),
                    );
                    continue;
                };
                let Some(target) = source.volumes.iter().find(|v| v.name == name) else {
                    self.report(
                        vpath,
                        ProblemKind::InvalidVolumeShare,
                        format!("component `{owner}` has no volume `{name}`"),
                    );
                    continue;
                };
                if target.shared_from.is_some() {
                    self.report(
                        vpath,
                        ProblemKind::InvalidVolumeShare,
                        format!("`{share}` is itself shared from another component; point at the volume's owner"),
                    );
                } else if target.access_mode == AccessMode::ReadWriteOnce {
                    self.report(
                        vpath,
                        ProblemKind::InvalidVolumeShare,
                        format!(
                            "`{share}` is read_write_once, so pods of two components on different nodes cannot both mount it; make it read_write_many or read_only_many"
                        ),
                    );
                }
            }
        }
    }

    fn secret_groups(&mut self, doc: &TemplateVersion, paths: &[String]) {
        let mut groups: BTreeMap<&str, (&SecretRule, String)> = BTreeMap::new();
        for (ci, c) in doc.components.iter().enumerate() {
            for (i, var) in c.connection_info.iter().enumerate() {
                let Some(rule) = &var.generate else { continue };
                let Some(group) = &rule.group else { continue };
                let path = format!("{}.connection_info[{i}].generate", paths[ci]);
                match groups.get(group.as_str()) {
                    Some((first, first_path))
                        if first.length != rule.length || first.alphabet != rule.alphabet =>
                    {
                        self.report(
                            path,
                            ProblemKind::SecretGroupConflict,
                            format!(
                                "secret group `{group}` is generated with other rules at {first_path} (length {}, {}); one shared value needs one rule",
                                first.length, first.alphabet
                            ),
                        );
                    }
                    Some(_) => {}
                    None => {
                        groups.insert(group, (rule, path));
                    }
                }
            }
        }
    }

    fn config_groups(&mut self, doc: &TemplateVersion) {
        let mut seen = BTreeSet::new();
        for (i, g) in doc.config_groups.iter().enumerate() {
            let path = format!("config_groups[{i}]");
            if g.name.trim().is_empty() {
                self.report(
                    format!("{path}.name"),
                    ProblemKind::Empty,
                    "the config group needs a name",
                );
            } else if !seen.insert(g.name.as_str()) {
                self.report(
                    format!("{path}.name"),
                    ProblemKind::DuplicateKey,
                    format!("config group `{}` is declared twice", g.name),
                );
            }
            for (j, key) in g.components.iter().enumerate() {
                if doc.component(key).is_none() {
                    self.report(
                        format!("{path}.components[{j}]"),
                        ProblemKind::UnknownComponent,
                        format!("no component has key `{key}`"),
                    );
                }
            }
            self.env_list(&path, &g.env, &mut NameMap::with_len(g.env.len()));
        }
    }

    /// Checks the names of `env`, found at `{base}{list}`.
    fn env_list<'a>(&mut self, base: &str, env: &'a [EnvVar], names: &mut NameMap<'a, Site>) {
        for (i, var) in env.iter().enumerate() {
            self.env_name(base, Site::new(SiteList::Env, i), &var.name, names);
        }
    }

    /// Checks the variable name `name` at `site` of the owner at `base`.
    fn env_name<'a>(
        &mut self,
        base: &str,
        site: Site,
        name: &'a str,
        names: &mut NameMap<'a, Site>,
    ) {
        let path = site.at(base);
        // By bytes: every byte of a non-ASCII character fails both tests,
        // as the character itself would.
        let valid = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            self.report(
                path,
                ProblemKind::InvalidName,
                format!("`{name}` is not a valid variable name; use letters, digits and `_`, starting with a letter or `_`"),
            );
        }
        if let Some(first) = names.insert_first(name, site) {
            let message = format!("variable `{name}` is already defined at {}", first.at(base));
            self.report(path, ProblemKind::DuplicateKey, message);
        }
    }

    /// Checks `files`, found at `{base}.config_files`.
    fn config_files<'a>(
        &mut self,
        base: &str,
        files: &'a [ConfigFile],
        mounts: &mut NameMap<'a, Site>,
    ) {
        for (i, f) in files.iter().enumerate() {
            let fpath = ItemPath::new(base, ".config_files", i, "");
            self.mount_path(
                base,
                Site::new(SiteList::ConfigFile, i),
                &f.mount_path,
                mounts,
            );
            let mode_ok = f.mode.len() <= 4
                && !f.mode.is_empty()
                && u32::from_str_radix(&f.mode, 8).is_ok_and(|m| m <= 0o777);
            if !mode_ok {
                self.report(
                    format_args!("{fpath}.mode"),
                    ProblemKind::InvalidMode,
                    format!(
                        "`{}` is not a file mode; write octal permission bits such as \"0644\"",
                        f.mode
                    ),
                );
            }
        }
    }

    /// Checks the mount path `mount` at `site` of the owner at `base`.
    fn mount_path<'a>(
        &mut self,
        base: &str,
        site: Site,
        mount: &'a str,
        mounts: &mut NameMap<'a, Site>,
    ) {
        let path = site.at(base);
        let clean = mount.starts_with('/')
            && mount.len() > 1
            && !mount.ends_with('/')
            && mount
                .split('/')
                .skip(1)
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        if !clean {
            self.report(
                path,
                ProblemKind::InvalidPath,
                format!("`{mount}` is not a clean absolute path; write e.g. /etc/app/config.yaml"),
            );
            return;
        }
        if let Some(first) = mounts.insert_first(mount, site) {
            let message = format!(
                "`{mount}` is already mounted by {}; give each mount its own path",
                first.at(base)
            );
            self.report(path, ProblemKind::MountPathConflict, message);
        }
    }

    fn secret_rule(&mut self, path: &str, rule: &SecretRule) {
        if !(8..=256).contains(&rule.length) {
            self.report(
                format!("{path}.length"),
                ProblemKind::InvalidSecretRule,
                format!(
                    "length {} is out of range; generated secrets have 8 to 256 characters",
                    rule.length
                ),
            );
        }
        if let Some(g) = &rule.group
            && g.trim().is_empty()
        {
            self.report(
                format!("{path}.group"),
                ProblemKind::Empty,
                "the group name is empty; remove it or name the group",
            );
        }
    }

    fn quantity(&mut self, path: impl fmt::Display, text: &str, positive: bool) {
        match parse_quantity(text) {
            None => self.report(
                path,
                ProblemKind::InvalidQuantity,
                format!("`{text}` is not a quantity; write e.g. 500m, 2, 512Mi or 10Gi"),
            ),
            Some(q) if positive && q.0 == 0 => {
                self.report(
                    path,
                    ProblemKind::InvalidQuantity,
                    format!("`{text}` is zero; give a positive amount"),
                );
            }
            Some(_) => {}
        }
    }

    fn image(&mut self, path: impl fmt::Display, image: &str) {
        match crate::image_ref::parse_image_ref(image) {
            Err(e) => self.report(
                path,
                ProblemKind::InvalidImage,
                format!("`{image}` is not an image reference ({e}); write registry/repository:tag@sha256:<digest>"),
            ),
            Ok(r) => match r.digest {
                None => self.report(
                    path,
                    ProblemKind::ImageWithoutDigest,
                    format!("`{image}` is not pinned by digest; append @sha256:<digest> so every environment runs the same bytes"),
                ),
                Some(d) => {
                    if !is_sha256_digest(d) {
                        self.report(path, ProblemKind::InvalidDigest, format!("`{d}` is not a sha256 digest"));
                    }
                }
            },
        }
    }

    fn digest(&mut self, path: &str, digest: &str) {
        if !is_sha256_digest(digest) {
            self.report(
                path,
                ProblemKind::InvalidDigest,
                format!("`{digest}` is not `sha256:` followed by 64 lowercase hex digits"),
            );
        }
    }

    fn label(&mut self, path: impl fmt::Display, key: &str, value: &str) {
        let (prefix, name) = match key.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key),
        };
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 63
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
        };
        let prefix_ok =
            prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(|seg| is_dns_label(seg, 63)));
        if !name_ok(name) || !prefix_ok {
            self.report(
                &path,
                ProblemKind::InvalidLabel,
                format!("`{key}` is not a Kubernetes label key; use [prefix/]name with letters, digits, `-`, `_`, `.`"),
            );
        }
        if !value.is_empty() && !name_ok(value) {
            self.report(
                &path,
                ProblemKind::InvalidLabel,
                format!("`{value}` is not a Kubernetes label value; at most 63 letters, digits, `-`, `_`, `.`, starting and ending alphanumeric"),
            );
        }
    }

    fn dns_label(&mut self, path: impl fmt::Display, value: &str, max: usize) {
        if value.is_empty() {
            self.report(path, ProblemKind::Empty, "the identifier is empty");
        } else if !is_dns_label(value, max) {
            self.report(
                path,
                ProblemKind::InvalidName,
                format!("`{value}` is not a valid identifier; use at most {max} lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit"),
            );
        }
    }
}

/// The path prefix of each component: by key when usable, by position when
/// the key is empty or repeated.
fn component_paths(doc: &TemplateVersion) -> Vec<String> {
    let mut count: NameMap<'_, usize> = NameMap::with_len(doc.components.len());
    for c in &doc.components {
        *count.get_or_default(c.key.as_str()) += 1;
    }
    doc.components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.key.is_empty() || count.get(c.key.as_str()).copied().unwrap_or(0) > 1 {
                format!("components[#{}]", i + 1)
            } else {
                format!("components[{}]", c.key)
            }
        })
        .collect()
}

/// Why depending on `dep` may leave `c` without it, if it can.
fn optional_dependency(doc: &TemplateVersion, c: &Component, dep: &Component) -> Option<String> {
    let dep_module = dep.module.as_deref()?;
    if c.module.as_deref() == Some(dep_module) {
        return None;
    }
    let module = doc.module(dep_module)?;
    if !module.optional {
        return None;
    }
    Some(format!(
        "`{}` is in optional module `{dep_module}`, which an installer may leave out; put `{}` in that module too or make the module required",
        dep.key, c.key
    ))
}

/// Every elementary cycle found by depth-first search, each reported once,
/// starting from its smallest key.
/// The distinct component keys in order, each with the index of the last
/// component of that key (as a map collected from the list would keep).
struct KeyIndex<'a>(Vec<(&'a str, usize)>);

impl<'a> KeyIndex<'a> {
    fn new(doc: &'a TemplateVersion) -> Self {
        let mut keys: Vec<(&str, usize)> = doc
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.as_str(), i))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
        keys.dedup_by(|later, kept| later.0 == kept.0);
        KeyIndex(keys)
    }

    /// The position of `key` among the distinct keys.
    fn node(&self, key: &str) -> Option<usize> {
        self.0.binary_search_by(|(k, _)| (*k).cmp(key)).ok()
    }

    /// The index of the (last) component of key `key`.
    fn get(&self, key: &str) -> Option<usize> {
        self.node(key).map(|n| self.0[n].1)
    }
}

fn find_cycles<'a>(doc: &'a TemplateVersion, keys: &KeyIndex<'a>) -> Vec<Vec<&'a str>> {
    // Nodes are the distinct keys, each with the edges of its component;
    // edges to unknown keys and to the node itself are dropped.
    let nodes = &keys.0;
    let node = |key: &str| keys.node(key);
    let edges: Vec<Vec<usize>> = nodes
        .iter()
        .map(|&(key, c)| {
            doc.components[c]
                .depends_on
                .iter()
                .map(String::as_str)
                .filter(|d| *d != key)
                .filter_map(node)
                .collect()
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; nodes.len()];
    let mut cycles: BTreeSet<Vec<&str>> = BTreeSet::new();
    for start in 0..nodes.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, index of next edge) frames.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::Active;
        while let Some(&mut (at, ref mut next)) = stack.last_mut() {
            if let Some(&target) = edges[at].get(*next) {
                *next += 1;
                match marks[target] {
                    Mark::New => {
                        marks[target] = Mark::Active;
                        stack.push((target, 0));
                    }
                    Mark::Active => {
                        if let Some(pos) = stack.iter().position(|(n, _)| *n == target) {
                            let mut cycle: Vec<&str> =
                                stack[pos..].iter().map(|(n, _)| nodes[*n].0).collect();
                            let min = cycle
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, k)| **k)
                                .map(|(i, _)| i)
                                .unwrap_or(0);
                            cycle.rotate_left(min);
                            cycles.insert(cycle);
                        }
                    }
                    Mark::Done => {}
                }
            } else {
                marks[at] = Mark::Done;
                stack.pop();
            }
        }
    }
    cycles.into_iter().collect()
}

/// `NAME` as an environment-variable prefix: upper case, `-` as `_`.
pub(crate) fn env_prefix(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// Whether `value` is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(value: &str) -> bool {
    value.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn is_dns_label(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && value.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && value
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// The path `{base}{list}[{item}]{field}` of a list item, formatted only
/// when a problem is reported.
#[derive(Clone, Copy)]
struct ItemPath<'p> {
    base: &'p str,
    list: &'static str,
    item: usize,
    field: &'static str,
}

impl<'p> ItemPath<'p> {
    fn new(base: &'p str, list: &'static str, item: usize, field: &'static str) -> Self {
        ItemPath {
            base,
            list,
            item,
            field,
        }
    }
}

impl fmt::Display for ItemPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}[{}]{}", self.base, self.list, self.item, self.field)
    }
}

/// Where a name in one owner's table of names came from: eight bytes
/// instead of an [`ItemPath`]'s fifty-six, since every entry of the table
/// shares the owner's path. The tables are filled for every component of
/// every document validated, and read back only to report a duplicate.
#[derive(Clone, Copy)]
struct Site {
    list: SiteList,
    item: u32,
}

/// The lists whose names share a table.
#[derive(Clone, Copy)]
enum SiteList {
    /// `.env[i].name`
    Env,
    /// `.connection_info[i].name`
    ConnectionInfo,
    /// `.config_files[i].mount_path`
    ConfigFile,
    /// `.volumes[i].mount_path`
    Volume,
}

impl Site {
    fn new(list: SiteList, item: usize) -> Self {
        // A list longer than `u32::MAX` items cannot come from a document
        // within the load limits; saturate rather than wrap.
        let item = u32::try_from(item).unwrap_or(u32::MAX);
        Site { list, item }
    }

    /// The item's path under the owner at `base`.
    fn at(self, base: &str) -> ItemPath<'_> {
        let (list, field) = match self.list {
            SiteList::Env => (".env", ".name"),
            SiteList::ConnectionInfo => (".connection_info", ".name"),
            SiteList::ConfigFile => (".config_files", ".mount_path"),
            SiteList::Volume => (".volumes", ".mount_path"),
        };
        ItemPath::new(base, list, self.item as usize, field)
    }
}
