"""Types of the plain data apptemplate returns and takes.

These describe dicts for type checkers; at run time the values are ordinary
dicts and lists with the content of the Rust JSON. Generated from the Rust
types (their JSON Schemas) by bindings/interop; do not edit, run
``UPDATE_TYPES=1 cargo test -p apptemplate-interop --test generated_types``.
"""

from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union


ChangeKind = Literal["added", "removed", "changed"]
"""Kind of a change.

- ``added``: Only in the new version.
- ``removed``: Only in the old version.
- ``changed``: In both, with different values."""


LineKind = Literal["context", "removed", "added"]
"""Role of a line in a hunk.

- ``context``: Unchanged, shown for orientation.
- ``removed``: Only in the old text.
- ``added``: Only in the new text."""


class DiffLine(TypedDict):
    """One line of a hunk."""

    kind: LineKind
    """Whether the line is context, removed or added."""

    text: str
    """The line without its line ending."""


class LineHunk(TypedDict):
    """One group of nearby changed lines with their context, like a hunk of a
    unified diff."""

    old_start: int
    """First line of the hunk in the old text (1-based; 0 for an empty text)."""

    old_lines: int
    """Number of old lines the hunk covers."""

    new_start: int
    """First line of the hunk in the new text (1-based; 0 for an empty text)."""

    new_lines: int
    """Number of new lines the hunk covers."""

    lines: List[DiffLine]
    """The lines, in order."""


Section = Literal[
    "metadata",
    "modules",
    "plugin_definitions",
    "config_groups",
    "identity",
    "module",
    "image",
    "command",
    "ports",
    "env",
    "connection_info",
    "config_files",
    "volumes",
    "dependencies",
    "scaling",
    "probes",
    "labels",
    "plugins",
]
"""The part of a template a change belongs to, for grouping and for the
upgrade rules that differ per part.

- ``metadata``: Version number, alias, notes, state, template catalogue data.
- ``modules``: Module group definitions.
- ``plugin_definitions``: Plugin definitions.
- ``config_groups``: App-level config groups.
- ``identity``: A component's display name and description.
- ``module``: A component's module membership.
- ``image``: Container image.
- ``command``: Command and arguments.
- ``ports``: Ports.
- ``env``: Environment variables.
- ``connection_info``: Connection info exported to dependants.
- ``config_files``: Config files.
- ``volumes``: Persistent volumes.
- ``dependencies``: Dependencies.
- ``scaling``: Replicas and resources.
- ``probes``: Health probes.
- ``labels``: Labels.
- ``plugins``: Plugin attachments."""


class _FieldChangeRequired(TypedDict):
    path: str
    """Path in the document, e.g. `components[gateway].env[JAVA_OPTS].value`."""

    section: Section
    """What part of the template the change is in."""

    kind: ChangeKind
    """Added, removed or changed."""


class FieldChange(_FieldChangeRequired, total=False):
    """One changed value."""

    field: Optional[str]
    """Field inside the entry or section (`value`, `http.path`...); none
    when the whole entry was added or removed."""

    item: Optional[str]
    """Identity of the list entry (env name, mount path, port name...),
    when the change is in a list."""

    lines: List[LineHunk]
    """Line diff of a changed config file content."""

    new: Any
    """The new value; none when removed, or when `lines` holds the change."""

    old: Any
    """The old value; none when added, or when `lines` holds the change."""

    secret: bool
    """Whether a value was masked because it is secret."""


class ComponentDiff(TypedDict):
    """How one component differs between the versions."""

    key: str
    """The component's stable key."""

    status: ChangeKind
    """Added, removed or changed."""

    changes: List[FieldChange]
    """Every field change; for an added or removed component, every field
    that has a value."""


class _VersionDiffRequired(TypedDict):
    template: str
    """Template id shared by both versions."""

    from_version: str
    """The version compared from."""

    to_version: str
    """The version compared to."""


class VersionDiff(_VersionDiffRequired, total=False):
    """Everything that differs between two versions of one template."""

    components: List[ComponentDiff]
    """Components added, removed or changed: those of the new version in
    its order, then the removed ones in the old order."""

    config_groups: List[FieldChange]
    """App-level config groups declared, removed or changed."""

    metadata: List[FieldChange]
    """Version metadata and template catalogue data (version, alias,
    release notes, release state, name, description, scope, tags, logo)."""

    modules: List[FieldChange]
    """Module groups declared, removed or changed."""

    plugins: List[FieldChange]
    """Plugin definitions declared, removed or changed."""


KeepReason = Literal["user_value", "volume_never_shrinks", "storage_class_fixed"]
"""Why a value is kept.

- ``user_value``: The user changed it after install; the new default does not overwrite it.
- ``volume_never_shrinks``: Volumes never shrink; the larger running size stays.
- ``storage_class_fixed``: An existing volume cannot change storage class; the running one stays."""


class _KeptCustomizationRequired(TypedDict):
    component: str
    """Component key."""

    path: str
    """Path of the value, e.g. `components[upms].env[JAVA_OPTS]`."""

    reason: KeepReason
    """Why it is kept."""

    kept_value: Any
    """The value that stays (masked if secret)."""


class KeptCustomization(_KeptCustomizationRequired, total=False):
    """A value kept on purpose against the target definition."""

    lines: List[LineHunk]
    """For config files: line diff from the kept content to the new
    default, to merge by hand if wanted."""

    new_default: Any
    """The default of the target (masked if secret), which did not win."""

    old_default: Any
    """The default of the version planned from, if any."""


PlanKind = Literal["install", "upgrade", "rollback"]
"""What a plan does.

- ``install``: First installation of a version.
- ``upgrade``: Move to a newer version (all components or a chosen subset).
- ``rollback``: Return to the state recorded before an earlier plan."""


Alphabet = Literal["alphanumeric", "lower_alphanumeric", "hex", "symbols"]
"""Character set of a generated secret.

- ``alphanumeric``: `A-Z a-z 0-9`.
- ``lower_alphanumeric``: `a-z 0-9`, for systems that fold case.
- ``hex``: `0-9 a-f`.
- ``symbols``: Alphanumeric plus `-_.~!@#%^*+=`, safe in URLs and shells when quoted."""


class _SecretRuleRequired(TypedDict):
    length: int
    """Number of characters, 8 to 256."""

    alphabet: Alphabet
    """Characters to draw from."""


class SecretRule(_SecretRuleRequired, total=False):
    """How to generate a secret at install time."""

    group: Optional[str]
    """Components whose rules name the same group share one generated
    value (e.g. the MySQL root password and the services using it)."""


class SecretToGenerate(TypedDict):
    """A secret to generate before the plan runs."""

    reference: str
    """Reference (see `crate::installed::secret_reference`)."""

    rule: SecretRule
    """How to generate it."""

    used_by: List[str]
    """`component.VARIABLE` entries that use it."""


StepAction = Literal["create", "update", "restore", "orphan", "remove"]
"""What a step does to its component.

- ``create``: Install a component that is not there.
- ``update``: Move a component to a new definition.
- ``restore``: Put a component back as a snapshot recorded it.
- ``orphan``: Keep a component the template no longer has, marked orphaned.
- ``remove``: Remove a component; its volumes are retained."""


Rule = Literal[
    "follows_new_version",
    "added_by_new_version",
    "removed_by_new_version",
    "new_default_taken",
    "customization_dropped",
    "volume_retained",
    "restored_from_snapshot",
    "follows_dependency",
    "set_by_option",
]
"""The upgrade and rollback rules, as named reasons.

- ``follows_new_version``: Image, command, probes, ports, plugins, labels, scaling and the rest of the definition follow the new version.
- ``added_by_new_version``: The new version adds it.
- ``removed_by_new_version``: The new version removes it.
- ``new_default_taken``: The running value still equalled the old default, so it takes the new default.
- ``customization_dropped``: The user had customized it, but the new version removes it.
- ``volume_retained``: The volume is no longer mounted; its data is kept.
- ``restored_from_snapshot``: Put back as recorded in the snapshot.
- ``follows_dependency``: Injected by a dependency, which now provides another value (or none): the component's own definition is unchanged.
- ``set_by_option``: Set by the operation's options (overrides)."""


class _PlannedChangeRequired(TypedDict):
    path: str
    """Path in the document, e.g. `components[gateway].env[JAVA_OPTS].value`."""

    section: Section
    """What part of the template the change is in."""

    kind: ChangeKind
    """Added, removed or changed."""

    rule: Rule
    """Why it changes."""


class PlannedChange(_PlannedChangeRequired, total=False):
    """A change in a running component and the rule that decided it."""

    field: Optional[str]
    """Field inside the entry or section (`value`, `http.path`...); none
    when the whole entry was added or removed."""

    item: Optional[str]
    """Identity of the list entry (env name, mount path, port name...),
    when the change is in a list."""

    lines: List[LineHunk]
    """Line diff of a changed config file content."""

    new: Any
    """The new value; none when removed, or when `lines` holds the change."""

    old: Any
    """The old value; none when added, or when `lines` holds the change."""

    secret: bool
    """Whether a value was masked because it is secret."""


class DroppedCustomization(TypedDict):
    """A customization that no longer applies."""

    component: str
    """Component key."""

    path: str
    """Path of the customized value."""

    user_value: Any
    """The user's value (masked if secret), for the record."""


AccessMode = Literal["read_write_once", "read_write_many", "read_only_many"]
"""Access mode of a volume.

- ``read_write_once``: Mounted read-write by one node.
- ``read_write_many``: Mounted read-write by many nodes.
- ``read_only_many``: Mounted read-only by many nodes."""


class _VolumeRequired(TypedDict):
    name: str
    """Volume name, unique in the component (DNS label)."""

    mount_path: str
    """Absolute mount path inside the container."""

    access_mode: AccessMode
    """How pods may mount the volume."""


class Volume(_VolumeRequired, total=False):
    """A persistent volume, or a mount of another component's volume."""

    capacity: Optional[str]
    """Requested size as a Kubernetes quantity, e.g. `10Gi`. Required
    unless the volume is shared from another component."""

    shared_from: Optional[str]
    """Mount another component's volume instead of creating one:
    `<component>/<volume>`."""

    storage_class: Optional[str]
    """Preferred storage class; environments may override it."""


class VolumeCustomization(TypedDict, total=False):
    """Volume settings that differ from the template."""

    capacity: Optional[str]
    """Size the volume was expanded to (or kept at), as a quantity."""

    storage_class: Optional[str]
    """Storage class chosen for this environment."""


class Customizations(TypedDict, total=False):
    """Values of one component that differ from its template definition."""

    config_files: Dict[str, str]
    """Config file contents by mount path."""

    env: Dict[str, str]
    """Env values by variable name (component or shared variables)."""

    replicas: Optional[int]
    """Replica count, when not the template's `min_replicas`."""

    volumes: Dict[str, VolumeCustomization]
    """Volume settings by volume name."""


class ConfigFile(TypedDict):
    """A file mounted into a container."""

    mount_path: str
    """Absolute path of the file inside the container."""

    content: str
    """File content."""

    mode: str
    """Permission bits in octal, e.g. `"0644"`."""


class _EnvVarRequired(TypedDict):
    name: str
    """Variable name."""

    value: str
    """Default value."""

    editable: bool
    """Whether the installer may change the value."""

    secret: bool
    """Whether the value is confidential: masked in diffs and plans."""


class EnvVar(_EnvVarRequired, total=False):
    """An environment variable with its default value. `Debug` masks the
    value of a secret variable."""

    description: str
    """What the variable controls."""


PluginKind = Literal["sidecar", "init"]
"""How a plugin container runs.

- ``sidecar``: Runs for the whole life of the component's pods.
- ``init``: Runs to completion before the component starts."""


class _PluginRequired(TypedDict):
    key: str
    """Identifier referenced by `components[].plugins[].plugin`."""

    name: str
    """Display name."""

    kind: PluginKind
    """How the plugin runs beside the component."""

    image: str
    """Container image, pinned by digest."""


class Plugin(_PluginRequired, total=False):
    """A plugin that components attach: a sidecar or init container."""

    args: List[str]
    """Arguments."""

    command: List[str]
    """Entrypoint override."""

    config_files: List[ConfigFile]
    """Configuration files of the plugin container."""

    env: List[EnvVar]
    """Default environment of the plugin container."""


class _ConfigFileInputRequired(TypedDict):
    mount_path: str
    """Absolute path of the file inside the container."""

    content: str
    """File content."""


class ConfigFileInput(_ConfigFileInputRequired, total=False):
    """A file mounted into a container."""

    mode: str
    """Permission bits in octal, e.g. `"0644"`."""


class _SecretRuleInputRequired(TypedDict):
    length: int
    """Number of characters, 8 to 256."""


class SecretRuleInput(_SecretRuleInputRequired, total=False):
    """How to generate a secret at install time."""

    alphabet: Alphabet
    """Characters to draw from."""

    group: Optional[str]
    """Components whose rules name the same group share one generated
    value (e.g. the MySQL root password and the services using it)."""


class _ConnectionVarInputRequired(TypedDict):
    name: str
    """Variable name as seen by dependants."""


class ConnectionVarInput(_ConnectionVarInputRequired, total=False):
    """A variable exported to dependants: a fixed value or a secret generated
    at install time. `Debug` masks a confidential fixed value."""

    description: str
    """What the variable is."""

    generate: Optional[SecretRuleInput]
    """Generate a random secret at install time."""

    secret: bool
    """Whether a fixed value is confidential (generated ones always are)."""

    value: Optional[str]
    """Fixed value; exactly one of `value` and `generate` is given."""


class _EnvVarInputRequired(TypedDict):
    name: str
    """Variable name."""


class EnvVarInput(_EnvVarInputRequired, total=False):
    """An environment variable with its default value. `Debug` masks the
    value of a secret variable."""

    description: str
    """What the variable controls."""

    editable: bool
    """Whether the installer may change the value."""

    secret: bool
    """Whether the value is confidential: masked in diffs and plans."""

    value: str
    """Default value."""


class _PluginAttachmentRequired(TypedDict):
    plugin: str
    """Key of a plugin declared in the version's `plugins`."""


class PluginAttachment(_PluginAttachmentRequired, total=False):
    """A plugin attached to a component, with per-component settings."""

    env: List[EnvVarInput]
    """Variables that override or extend the plugin's defaults here."""


Protocol = Literal["tcp", "udp", "http", "grpc"]
"""Protocol of a port.

- ``tcp``: Plain TCP.
- ``udp``: UDP.
- ``http``: HTTP over TCP.
- ``grpc``: gRPC over TCP."""


class _PortInputRequired(TypedDict):
    name: str
    """Port name, unique in the application (DNS label of at most 15
    characters); dependants see it as `<NAME>_HOST` / `<NAME>_PORT`."""

    port: int
    """Container port number."""


class PortInput(_PortInputRequired, total=False):
    """A port a component listens on."""

    inner: bool
    """Reachable by the other components of the application."""

    outer: bool
    """Reachable from outside the application."""

    protocol: Protocol
    """Protocol spoken on the port."""


class ExecProbe(TypedDict):
    """Command probe target."""

    command: List[str]
    """Command and arguments; exit status 0 means healthy."""


class HttpProbe(TypedDict):
    """HTTP probe target."""

    port: int
    """A port number declared in the component's `ports`."""

    path: str
    """Request path, starting with `/`."""


class TcpProbe(TypedDict):
    """TCP probe target."""

    port: int
    """A port number declared in the component's `ports`."""


class ProbeInput(TypedDict, total=False):
    """A health probe; exactly one of `tcp`, `http` and `exec` is its target."""

    exec: Optional[ExecProbe]
    """Run a command in the container."""

    failure_threshold: int
    """Consecutive failures before the probe counts as failed."""

    http: Optional[HttpProbe]
    """Send an HTTP GET."""

    initial_delay_seconds: int
    """Seconds before the first probe."""

    period_seconds: int
    """Seconds between probes."""

    tcp: Optional[TcpProbe]
    """Open a TCP connection to this port of the component."""

    timeout_seconds: int
    """Seconds before one probe times out."""


class Probes(TypedDict, total=False):
    """Liveness and readiness probes."""

    liveness: Optional[ProbeInput]
    """Restart the container when this fails."""

    readiness: Optional[ProbeInput]
    """Send no traffic until this succeeds."""


class ScalingInput(TypedDict, total=False):
    """Replica bounds and resources of a component."""

    cpu_limit: Optional[str]
    """CPU limit."""

    cpu_request: Optional[str]
    """Requested CPU (quantity, e.g. `250m`)."""

    max_replicas: int
    """Most replicas; above `min_replicas` the component autoscales."""

    memory_limit: Optional[str]
    """Memory limit."""

    memory_request: Optional[str]
    """Requested memory (quantity, e.g. `512Mi`)."""

    min_memory: Optional[str]
    """Smallest memory the component can run with (quantity, e.g. `512Mi`)."""

    min_replicas: int
    """Fewest replicas."""

    step: int
    """Replicas added or removed per scaling step."""


class _VolumeInputRequired(TypedDict):
    name: str
    """Volume name, unique in the component (DNS label)."""

    mount_path: str
    """Absolute mount path inside the container."""


class VolumeInput(_VolumeInputRequired, total=False):
    """A persistent volume, or a mount of another component's volume."""

    access_mode: AccessMode
    """How pods may mount the volume."""

    capacity: Optional[str]
    """Requested size as a Kubernetes quantity, e.g. `10Gi`. Required
    unless the volume is shared from another component."""

    shared_from: Optional[str]
    """Mount another component's volume instead of creating one:
    `<component>/<volume>`."""

    storage_class: Optional[str]
    """Preferred storage class; environments may override it."""


class _ComponentRequired(TypedDict):
    key: str
    """Stable identity across versions (DNS label). Components are matched
    between versions by this key, never by display name."""

    name: str
    """Display name."""

    image: str
    """Container image, pinned by digest:
    `registry/repository[:tag]@sha256:<64 hex>`."""


class Component(_ComponentRequired, total=False):
    """One deployable part of the application."""

    args: List[str]
    """Arguments."""

    command: List[str]
    """Entrypoint override."""

    config_files: List[ConfigFileInput]
    """Files mounted into the container."""

    connection_info: List[ConnectionVarInput]
    """Variables exported to every component that depends on this one
    (e.g. `MYSQL_HOST`, `MYSQL_PASSWORD`)."""

    depends_on: List[str]
    """Keys of the components this one needs; they are installed and
    upgraded first, and their connection info is injected here."""

    description: str
    """What the component does."""

    env: List[EnvVarInput]
    """Environment variables of the component."""

    labels: Dict[str, str]
    """Labels put on everything rendered for the component."""

    module: Optional[str]
    """Module group the component belongs to; none means always installed."""

    plugins: List[PluginAttachment]
    """Plugins attached to the component."""

    ports: List[PortInput]
    """Ports the component listens on."""

    probes: Probes
    """Health probes."""

    scaling: ScalingInput
    """Replicas and resources."""

    volumes: List[VolumeInput]
    """Persistent volumes."""


class _InstalledComponentRequired(TypedDict):
    version: str
    """Template version the definition comes from."""

    spec: Component
    """The template definition the component runs."""


class InstalledComponent(_InstalledComponentRequired, total=False):
    """One installed component. `Debug` masks the values of secret variables
    (defaults and customized values alike)."""

    customizations: Customizations
    """Values that differ from the definition because someone chose them."""

    orphaned: bool
    """The template dropped the component in a later version; it keeps
    running with its data until pruned."""

    plugin_definitions: List[Plugin]
    """Definitions of the plugins the component attaches."""

    shared_env: List[EnvVar]
    """Variables injected by the version's config groups, in group order,
    leaving out names the component defines itself."""


class _StepRequired(TypedDict):
    number: int
    """Position in the plan, from 1; "failed at step N" refers to it."""

    wave: int
    """Wave, from 1: a step's dependencies are done in earlier waves;
    steps of one wave are independent of each other."""

    component: str
    """Component key."""

    action: StepAction
    """What happens to the component."""

    why: str
    """Why, in one sentence."""


class Step(_StepRequired, total=False):
    """One step: one component created, updated, restored, orphaned or removed."""

    changes: List[PlannedChange]
    """What changes in the running component, each with the rule behind it."""

    dropped: List[DroppedCustomization]
    """Customizations that no longer apply because the new version removed
    what they customized, or no longer lets the installer choose it.
    Reported, never dropped silently."""

    kept: List[KeptCustomization]
    """Values deliberately not changed: the user's value wins over a new
    default, or a volume is not shrunk."""

    retained_volumes: List[Volume]
    """Volumes this step stops mounting; their data is kept."""

    secrets: Dict[str, SecretRule]
    """Generated secrets the component uses (reference → rule)."""

    target: Optional[InstalledComponent]
    """The component after the step; none when it is removed."""


class _PlanRequired(TypedDict):
    kind: PlanKind
    """Install, upgrade or rollback."""

    template: str
    """Template id."""

    to_version: str
    """Version the plan moves to."""

    version_after: str
    """Version the installation as a whole is at once every step is done;
    a partial upgrade leaves it at `from_version` until every component
    has moved."""


class Plan(_PlanRequired, total=False):
    """An ordered, explained list of changes to one installation."""

    from_version: Optional[str]
    """Version the installation is at before the plan (none for install)."""

    kept: List[KeptCustomization]
    """Values kept on components that need no step (e.g. a rollback that
    only relabels a component whose volume has grown since)."""

    kept_components: List[str]
    """Components a rollback leaves in place because the rolled-back plan
    added them (removed only when asked)."""

    kept_secrets: List[str]
    """Secret references a rollback keeps though the target state did not
    have them: data may already be protected by their values."""

    modules_after: List[str]
    """Selected modules once every step is done."""

    new_secrets: List[SecretToGenerate]
    """Generated secrets the plan needs that the installation lacks."""

    notes: List[str]
    """Things worth knowing that are not changes (e.g. replicas outside
    the new bounds, a dependency cycle in an invalid state)."""

    scope: Optional[List[str]]
    """The components a partial upgrade is limited to."""

    steps: List[Step]
    """The steps in execution order (by wave, then component key)."""

    version_labels: Dict[str, str]
    """Components whose definition is unchanged but now counts as part of
    another version: component key → version. Nothing runs differently,
    so they need no step; `apply` relabels them."""


class RetainedVolume(TypedDict):
    """A volume whose data is kept though nothing mounts it any more."""

    component: str
    """Component that owned it."""

    volume: Volume
    """The volume as it was last mounted (capacity and class effective)."""


class _InstalledStateRequired(TypedDict):
    template: str
    """Template id."""

    version: str
    """Version the installation as a whole is at; after a partial upgrade
    some components may already run a newer one (see
    `InstalledComponent::version`). Empty before the first install."""

    components: Dict[str, InstalledComponent]
    """Installed components by key."""


class InstalledState(_InstalledStateRequired, total=False):
    """The installed state of one template in one environment."""

    modules: List[str]
    """Selected module groups (required ones included)."""

    retained_volumes: List[RetainedVolume]
    """Volumes no longer mounted (their component was pruned, or a version
    dropped them) whose data is kept."""

    secrets: Dict[str, SecretRule]
    """Generated secrets by reference (see `secret_reference`), with the
    rule they were generated with. Values live only in the environment.
    References are never dropped by a plan: data may already be
    protected by the value."""


class OutcomeSucceeded(TypedDict):
    """Every step was done."""

    status: Literal["succeeded"]


class _OutcomeFailedAtStepRequired(TypedDict):
    status: Literal["failed_at_step"]

    step: int
    """Number of the failed step."""

    message: str
    """What went wrong, as the adapter reported it."""


class OutcomeFailedAtStep(_OutcomeFailedAtStepRequired, total=False):
    """Step `step` failed (and may be half done); the steps in
    `applied_steps` were done."""

    applied_steps: Optional[List[int]]
    """Numbers of the steps whose objects were applied, in plan order.
    The steps of one wave run together, so steps numbered after
    `step` may be among them. Absent in records written before this
    field existed, which mean the steps numbered before `step`."""


class OutcomePartlyApplied(TypedDict):
    """Only these steps were done (e.g. the executor was interrupted)."""

    status: Literal["partly_applied"]

    applied_steps: List[int]
    """Numbers of the steps done."""


Outcome = Union[OutcomeSucceeded, OutcomeFailedAtStep, OutcomePartlyApplied]
"""What happened when a plan was carried out."""


class _UpgradeRecordRequired(TypedDict):
    before: InstalledState
    """The installed state before the plan ran: the rollback target."""

    plan: Plan
    """The plan that ran."""

    outcome: Outcome
    """How it ended."""


class UpgradeRecord(_UpgradeRecordRequired, total=False):
    """A plan as it was carried out, with the state before it, so it can be
    rolled back later. Rollbacks are recorded the same way."""

    finished_at: Optional[str]
    """When it ended (RFC 3339), supplied by the caller."""

    started_at: Optional[str]
    """When it started (RFC 3339), supplied by the caller."""


class PublishOutcomeCreated(TypedDict):
    """A new version number."""

    outcome: Literal["created"]

    digest: str
    """Content digest of the new version."""


class PublishOutcomeUnchanged(TypedDict):
    """The same content was already published under this number: nothing
    to do."""

    outcome: Literal["unchanged"]

    digest: str
    """Content digest shared by both."""


class PublishOutcomeReplaced(TypedDict):
    """Draft or testing content replaced because overwrite was asked."""

    outcome: Literal["replaced"]

    previous: str
    """Digest of the content that was replaced."""

    digest: str
    """Digest of the new content."""


PublishOutcome = Union[PublishOutcomeCreated, PublishOutcomeUnchanged, PublishOutcomeReplaced]
"""What a publish did or would do."""


class IncrementalSummary(TypedDict):
    """What an incremental publish took from where."""

    replaced: List[str]
    """Keys of base components replaced by new definitions."""

    added: List[str]
    """Keys of components new in this version."""

    carried_over: List[str]
    """Keys of components carried over from the base unchanged."""


ProblemKind = Literal[
    "unknown_format",
    "empty",
    "invalid_name",
    "duplicate_key",
    "invalid_version",
    "invalid_timestamp",
    "invalid_image",
    "image_without_digest",
    "invalid_digest",
    "unknown_dependency",
    "dependency_cycle",
    "optional_dependency",
    "port_conflict",
    "mount_path_conflict",
    "invalid_path",
    "invalid_mode",
    "invalid_quantity",
    "invalid_volume_share",
    "replica_range",
    "resource_range",
    "probe_without_target",
    "invalid_probe",
    "invalid_connection_info",
    "invalid_secret_rule",
    "secret_group_conflict",
    "unknown_module",
    "unknown_plugin",
    "unknown_component",
    "invalid_label",
    "no_components",
]
"""The kinds of problems validation reports.

- ``unknown_format``: The `format` tag is not one this library reads.
- ``empty``: A required text is empty.
- ``invalid_name``: An identifier does not follow the naming rules.
- ``duplicate_key``: Two entries share a key or name that must be unique.
- ``invalid_version``: The version is not a semantic version.
- ``invalid_timestamp``: A creation time is not RFC 3339.
- ``invalid_image``: An image reference cannot be parsed.
- ``image_without_digest``: An image reference is not pinned by digest.
- ``invalid_digest``: A digest is malformed.
- ``unknown_dependency``: A dependency names no component of the version.
- ``dependency_cycle``: Dependencies form a cycle.
- ``optional_dependency``: A component depends on one that may not be installed.
- ``port_conflict``: A port number is out of range or claimed twice.
- ``mount_path_conflict``: Two mounts claim one path.
- ``invalid_path``: A mount path is not absolute or not clean.
- ``invalid_mode``: A file mode is not octal permission bits.
- ``invalid_quantity``: A quantity cannot be parsed or is zero.
- ``invalid_volume_share``: A volume share points nowhere usable.
- ``replica_range``: Replica bounds or steps are inconsistent.
- ``resource_range``: A request is above its limit.
- ``probe_without_target``: A probe has no target or more than one.
- ``invalid_probe``: A probe setting is out of range.
- ``invalid_connection_info``: A connection variable has neither or both of value and generate.
- ``invalid_secret_rule``: A secret rule is out of range.
- ``secret_group_conflict``: One shared-secret group is used with different rules.
- ``unknown_module``: A component names a module the version does not declare.
- ``unknown_plugin``: A component attaches a plugin the version does not declare.
- ``unknown_component``: A config group lists an unknown component.
- ``invalid_label``: A label key or value breaks the Kubernetes label rules.
- ``no_components``: The version has no components."""


class Problem(TypedDict):
    """One thing wrong with a document."""

    path: str
    """Where: a path in the document."""

    kind: ProblemKind
    """What kind of problem, for programs."""

    message: str
    """What is wrong and what to do, for people."""


class InventoryVersion(TypedDict):
    """One version an inventory lists."""

    template: str
    """Template id."""

    version: str
    """Version number."""

    content_digest: str
    """Content digest of the document."""


class Inventory(TypedDict):
    """What a market holds."""

    format: str
    """Format version, `INVENTORY_FORMAT`."""

    blobs: List[str]
    """Digests of every blob held, sorted."""

    versions: List[InventoryVersion]
    """Every template version held, sorted."""


class _RecordSummaryRequired(TypedDict):
    revision: int
    """Revision number, from 1."""

    kind: PlanKind
    """Install, upgrade or rollback."""

    to_version: str
    """Version planned to."""

    outcome: str
    """How it ended: `succeeded`, `failed at step N: ...`, `partly applied`."""

    applied_steps: List[int]
    """Steps whose objects were applied, in plan order: every step of a
    success; for a failure, exactly those applied (steps of one wave run
    together, so steps numbered after the failed one may be among them)."""


class RecordSummary(_RecordSummaryRequired, total=False):
    """One line of history, readable without loading the whole record."""

    finished_at: Optional[str]
    """End time (RFC 3339)."""

    from_version: Optional[str]
    """Version before."""

    started_at: Optional[str]
    """Start time (RFC 3339)."""


class Overrides(TypedDict, total=False):
    """Per-environment values that differ from the template."""

    env: Dict[str, Dict[str, str]]
    """Env values: component key → variable name → value. Only editable
    variables may be overridden."""

    replicas: Dict[str, int]
    """Replicas per component key, within the component's bounds."""

    storage_class: Optional[str]
    """Storage class for every volume of the installation."""

    volume_storage_classes: Dict[str, str]
    """Storage class per volume, as `component/volume`; wins over
    `storage_class`."""


class InstallOptions(TypedDict, total=False):
    """Choices made when installing a version into one environment."""

    modules: Dict[str, bool]
    """Optional modules switched on (`true`) or off (`false`); modules not
    listed follow their `enabled_by_default`."""

    overrides: Overrides
    """Per-environment values."""


class UpgradeOptions(TypedDict, total=False):
    """Choices made for one upgrade."""

    components: Optional[List[str]]
    """Upgrade only these components (partial upgrade); all when none."""

    modules: Dict[str, bool]
    """Optional modules switched on or off; modules not listed keep the
    installed choice, and modules new in the target follow their default."""

    overrides: Overrides
    """Values to set on installed components, checked as at install: env
    values of editable variables and replicas within the template's
    bounds. They are recorded as customizations, so later upgrades keep
    them. With the installed version as the target, this reconfigures
    the installation in place. Storage classes are chosen at install."""

    prune: bool
    """Remove components the new version no longer has, instead of keeping
    them orphaned. Their volumes are retained either way."""


class RollbackOptions(TypedDict, total=False):
    """Choices made for one rollback."""

    remove_added: bool
    """Remove components that are not in the snapshot (those the upgrade
    added). By default they are kept, as the seeds' platform does.
    Their volumes are retained either way."""


class StateCustomizations(TypedDict, total=False):
    """User edits to a whole installed state, by component key: the plain-data
    input of `InstalledState::customized`, read alike by every face
    (Python's `customize` keywords, Node's `customize` object). A misspelt
    field is refused by name."""

    config_files: Dict[str, Dict[str, str]]
    """Config file contents: component key → mount path → content."""

    env: Dict[str, Dict[str, str]]
    """Env values: component key → variable name → value."""

    replicas: Dict[str, int]
    """Replica counts by component key."""

    volume_capacities: Dict[str, Dict[str, str]]
    """Volume sizes (quantities, only growing): component key → volume
    name → capacity."""


class ConfigGroup(TypedDict):
    """Configuration shared by several components of the application: its
    variables are injected into every listed component."""

    name: str
    """Unique name of the group."""

    components: List[str]
    """Keys of the components that receive the group's variables."""

    env: List[EnvVarInput]
    """The shared variables."""


class _ModuleInputRequired(TypedDict):
    key: str
    """Identifier referenced by `components[].module`."""

    name: str
    """Display name."""


class ModuleInput(_ModuleInputRequired, total=False):
    """A module group: a set of components a customer can select or leave out."""

    description: str
    """What the module adds."""

    enabled_by_default: bool
    """Whether an optional module is selected unless the installer says
    otherwise. Required modules are always installed."""

    optional: bool
    """Whether the installer may leave the module out."""


class _PluginInputRequired(TypedDict):
    key: str
    """Identifier referenced by `components[].plugins[].plugin`."""

    name: str
    """Display name."""

    image: str
    """Container image, pinned by digest."""


class PluginInput(_PluginInputRequired, total=False):
    """A plugin that components attach: a sidecar or init container."""

    args: List[str]
    """Arguments."""

    command: List[str]
    """Entrypoint override."""

    config_files: List[ConfigFileInput]
    """Configuration files of the plugin container."""

    env: List[EnvVarInput]
    """Default environment of the plugin container."""

    kind: PluginKind
    """How the plugin runs beside the component."""


class IncrementalChange(TypedDict, total=False):
    """An incremental publish: a new version number and only what changed.
    Read from data, absent fields are empty (an empty `version` is then
    refused by `build_incremental`) and unknown fields are refused."""

    alias: Optional[str]
    """Alias of the new version; the base's alias is not carried over."""

    components: List[Component]
    """Components that replace the base's component of the same key, or are
    added when the key is new."""

    config_groups: List[ConfigGroup]
    """Config groups replaced or added, by name (e.g. to share a group's
    variables with a new component)."""

    created_at: Optional[str]
    """Creation time (RFC 3339), supplied by the caller."""

    modules: List[ModuleInput]
    """Modules replaced or added, by key."""

    plugins: List[PluginInput]
    """Plugins replaced or added, by key."""

    release_notes: str
    """Release notes of the new version."""

    version: str
    """The new version number; must be newer than the base."""


class ImageRef(TypedDict):
    """An image the market names. Serializes as `{name, digest, reference}`."""

    name: str
    """Name without digest, e.g. `registry.example.com/pig/gateway:3.8.2`."""

    digest: str
    """Manifest digest."""

    reference: str
    """`name@digest`, the form template documents use."""


ReleaseState = Literal["draft", "testing", "released", "deprecated"]
"""Life cycle of a version. Transitions are checked by
`crate::set_release_state`.

- ``draft``: Being assembled; may change freely.
- ``testing``: Handed to testers.
- ``released``: Approved for delivery; its content can never be overwritten.
- ``deprecated``: Should no longer be installed; kept for rollbacks and records."""


class VersionSummary(TypedDict):
    """A version as listed. Serializes with its field names, the state as
    documents name it (`draft`, `testing`, `released`, `deprecated`)."""

    template: str
    """Template id."""

    version: str
    """Version number."""

    state: ReleaseState
    """The vendor's release state: for an imported version the one signed
    in the package that carried it (a newer package moves it on), for a
    version published here this market's own. `released_only`
    environments check this state."""

    site_state: Optional[ReleaseState]
    """For an imported version, a release state decided at this site
    (`Market::set_release_state`), recorded apart from the vendor's."""

    vendor_package: Optional[str]
    """For an imported version, the manifest digest of the package whose
    signed release state `state` is."""

    content_digest: str
    """Content digest of the document."""


class TemplateSummary(TypedDict):
    """A template and its versions. Serializes with its field names."""

    id: str
    """Template id."""

    name: str
    """Display name (from the newest version)."""

    versions: List[VersionSummary]
    """Versions, oldest first."""


class GcReport(TypedDict):
    """What `Market::gc` removed. Serializes with its field names."""

    blobs_removed: int
    """Blobs removed."""

    bytes_freed: int
    """Bytes freed, staging included."""

    staged_files_removed: int
    """Files of interrupted imports removed from `staging/`."""

    staged_bytes_freed: int
    """Their size (part of `bytes_freed`)."""


class VerifyReport(TypedDict):
    """What `Market::verify` found. Serializes with its field names."""

    blobs_checked: int
    """Blobs hashed."""

    staged_files: int
    """Files of interrupted imports in `staging/` (kept for a retry of the
    same package; `gc` removes them)."""

    staged_bytes: int
    """Their size."""

    problems: List[str]
    """Every problem found, in words; empty when the market is sound."""


TransferPhase = Literal["wait", "export", "import", "commit", "done"]
"""What an operation is doing. Serializes as its snake_case name
(`wait`, `export`, `import`, `commit`, `done`).

- ``wait``: Waiting for another process to release the market's lock: `item` names the holder when known, `bytes_done` is the time waited and `bytes_total` the timeout, in milliseconds (0: none).
- ``export``: Writing a package.
- ``import``: Reading, verifying and staging a package.
- ``commit``: Moving verified blobs into the store and updating the catalog.
- ``done``: The operation finished."""


class TransferProgress(TypedDict):
    """One progress report: bytes done and total, and the current item (a
    blob's archive entry, or a step of the commit). Serializes with its
    field names."""

    phase: TransferPhase
    """What is being done."""

    bytes_done: int
    """Bytes processed so far."""

    bytes_total: int
    """Bytes to process in all."""

    items_done: int
    """Items (blobs) processed so far."""

    items_total: int
    """Items to process in all."""

    item: str
    """The current item."""


class ExportReport(TypedDict):
    """What an export wrote. Serializes with its field names, the files as
    strings."""

    manifest_digest: str
    """Digest of the package manifest (what the signature signs)."""

    carried_blobs: int
    """Blobs carried."""

    carried_bytes: int
    """Their total size."""

    omitted_blobs: int
    """Blobs left out (the destination must hold them)."""

    omitted_bytes: int
    """Their total size."""

    archive_bytes: int
    """Bytes of archive written."""

    files: List[str]
    """The files written, for exports to files or parts."""


ImportedVersionOutcome = Literal["added", "unchanged", "release_state_updated"]
"""What happened to one version of the package. Serializes as its
snake_case name (`added`, `unchanged`).

- ``added``: New in this market.
- ``unchanged``: Already here with the same content; nothing changed.
- ``release_state_updated``: Already here with the same content, and the package carries a newer vendor release state (e.g. draft, now released), which the market now records. A state decided at this site is kept apart."""


class ImportedVersionReport(TypedDict):
    """One version of an imported package and what happened to it."""

    version: str
    """Version number."""

    outcome: ImportedVersionOutcome
    """What happened to it."""


class ImportReport(TypedDict):
    """What an import did. Serializes with its field names; each version as
    `{version, outcome}`."""

    manifest_digest: str
    """Digest of the package manifest."""

    template: str
    """Template id."""

    versions: List[ImportedVersionReport]
    """Each version with what happened to it."""

    signer: Optional[str]
    """Id of the key that signed the package, when signed and trusted."""

    blobs_written: int
    """Blobs written to the market."""

    bytes_written: int
    """Their size."""

    blobs_skipped: int
    """Blobs the market (or an earlier interrupted import) already had."""


PullEvent = Literal["resolved", "skipped", "fetching", "fetched", "committed", "done"]
"""What a pull is doing when it reports. Serializes as its snake_case
name (`resolved`, `skipped`, `fetching`, `fetched`, `committed`, `done`).

- ``resolved``: An image's manifests are known (the item is the image).
- ``skipped``: A blob is in the market already.
- ``fetching``: Bytes of a blob arrived.
- ``fetched``: A blob arrived whole and verified.
- ``committed``: The catalog names the pulled images.
- ``done``: The pull finished."""


class PullProgress(TypedDict):
    """One progress report of a pull. Totals count what must be fetched,
    known once every image is resolved. Serializes with its field names."""

    event: PullEvent
    """What happened."""

    bytes_done: int
    """Bytes fetched so far."""

    bytes_total: int
    """Bytes to fetch in all."""

    blobs_done: int
    """Blobs fetched so far."""

    blobs_total: int
    """Blobs to fetch in all."""

    image: str
    """The image concerned (as asked for), or the registry."""

    blob: str
    """The blob or manifest digest concerned, or empty."""


class PulledImage(TypedDict):
    """One pulled image. Serializes with its field names."""

    requested: str
    """The reference as asked for."""

    source_digest: str
    """The digest the registry serves for it."""

    image: ImageRef
    """The image as the market names it; its digest differs from
    `source_digest` only when a platform filter rewrote an index."""

    platforms: List[str]
    """The platforms kept, when a filter applied to an index."""


class PullReport(TypedDict):
    """What a pull did. Serializes with its field names."""

    images: List[PulledImage]
    """Each image, in the order asked for."""

    manifests_fetched: int
    """Manifests fetched from the registry (the others were in the market)."""

    blobs_fetched: int
    """Blobs (configs, layers) fetched."""

    blobs_skipped: int
    """Blobs the market had already."""

    blobs_resumed: int
    """Fetched blobs that continued a partial download of an earlier pull."""

    bytes_fetched: int
    """Bytes received for blobs."""


RelocateEvent = Literal[
    "skipped",
    "uploading",
    "uploaded",
    "mounted",
    "manifest_pushed",
    "manifest_skipped",
    "done",
]
"""What a relocation is doing when it reports. Serializes as its snake_case
name (`skipped`, `uploading`, `uploaded`, `mounted`, `manifest_pushed`,
`manifest_skipped`, `done`).

- ``skipped``: A blob was found in the registry already.
- ``uploading``: Bytes of a blob were sent.
- ``uploaded``: A blob was uploaded completely.
- ``mounted``: A blob was mounted from another repository of the registry.
- ``manifest_pushed``: A manifest (or tag) was put.
- ``manifest_skipped``: A manifest was found in the registry already.
- ``done``: The relocation finished."""


class RelocateProgress(TypedDict):
    """One progress report of a relocation. Totals count what must be
    uploaded, known once the registry has been asked what it has.
    Serializes with its field names."""

    event: RelocateEvent
    """What happened."""

    bytes_done: int
    """Bytes uploaded so far."""

    bytes_total: int
    """Bytes to upload in all."""

    blobs_done: int
    """Blobs uploaded so far."""

    blobs_total: int
    """Blobs to upload in all."""

    item: str
    """The current item: `<repository>@<digest>` (or `:<tag>`)."""


class RelocatedImage(TypedDict):
    """An image and where it was relocated to."""

    name: str
    """Name in the market, without digest."""

    digest: str
    """Manifest digest."""

    relocated: str
    """`<registry>/<repository>@<digest>` as clusters pull it."""


class RelocateReport(TypedDict):
    """What a relocation did. Serializes with the counts' field names and each
    image as `{name, digest, relocated}`."""

    blobs_checked: int
    """Blobs asked about (per repository)."""

    blobs_skipped: int
    """Blobs the registry had already."""

    blobs_uploaded: int
    """Blobs uploaded (0 when the registry had everything)."""

    blobs_mounted: int
    """Blobs mounted from another repository of the registry instead of
    uploaded again (a base layer shared by several images)."""

    bytes_uploaded: int
    """Bytes uploaded."""

    manifests_pushed: int
    """Manifests (and tags) put."""

    manifests_skipped: int
    """Manifests the registry had already."""

    images: List[RelocatedImage]
    """Each image with its relocated reference."""


class KeyPair(TypedDict):
    """A key pair as text: what `generate_key_pair` gives in every language.
    Serializes as `{key_id, public_key, public_key_file, secret_key}`."""

    key_id: str
    """The key's id, as `minisign` prints it (16 hex digits)."""

    public_key: str
    """The public key as one base64 line (`minisign -P <this>`); give it
    to everyone who imports your packages."""

    public_key_file: str
    """The public key in minisign's `.pub` file format."""

    secret_key: str
    """The secret key in minisign's (unencrypted) key file format; keep it
    secret, it signs packages."""


class MarketOptions(TypedDict, total=False):
    """How a market is opened. Serializes as `{lock_timeout_seconds}`
    (absent: wait as long as it takes)."""

    lock_timeout_seconds: Optional[float]
    """How long an operation waits for the market's lock while another
    process holds it; `None` waits as long as it takes. On timeout the
    operation fails with `MarketError::LockTimeout`, naming the
    holder when known. Exports and imports report the wait through
    their progress callback (`Phase::Wait`)."""


class ExportBaseVersions(TypedDict):
    """Every blob these versions of the same template use (the destination
    has them): only layers the base lacks are carried."""

    versions: List[str]


class ExportBaseInventory(TypedDict):
    """Every blob the destination's inventory lists."""

    inventory: Inventory


ExportBase = Union[Literal["full"], ExportBaseVersions, ExportBaseInventory]
"""What a package leaves out. Serializes as `"full"`, `{"versions":
[..]}` or `{"inventory": {..}}`."""


CompressionName = Literal["zstd", "none"]
"""Archive compression as options name it.

- ``zstd``: zstd (the default).
- ``none``: A plain tar (`oci-archive:` readable as is)."""


class ExportOptions(TypedDict, total=False):
    """How an export is made: its base, signature, compression and splitting.
    Serializes as `{base, signing_key, part_size, compression,
    compression_level, allow_draft}`; `base` is `"full"` (the default),
    `{"versions": [..]}` or `{"inventory": {..}}`."""

    allow_draft: bool
    """Export draft versions too; a draft is not for delivery, so without
    this exporting one is refused (`crate::MarketError::DraftExport`)."""

    base: ExportBase
    """What the destination already holds (left out of the package)."""

    compression: CompressionName
    """`zstd` (default) or `none`."""

    compression_level: Optional[int]
    """zstd level, 1 to 19 (3 when absent)."""

    part_size: Optional[int]
    """Split the package into parts of at most this many bytes."""

    signing_key: Optional[str]
    """Secret key (minisign file text) that signs the package."""


class ImportOptions(TypedDict, total=False):
    """Options of an import. Its plain-data form is flat: `{trusted_keys,
    allow_unsigned, allow_untrusted, reserve_bytes}`, each key a minisign
    `.pub` file text or base64 line (the archive limits keep their
    defaults)."""

    allow_unsigned: bool
    """Accept unsigned packages."""

    allow_untrusted: bool
    """Accept packages signed by a key not in `trusted_keys`."""

    reserve_bytes: int
    """Free space to leave untouched on the market's filesystem, in bytes."""

    trusted_keys: List[str]
    """Public keys (minisign `.pub` file text or base64 line) whose
    signatures are accepted."""


class PullOptions(TypedDict, total=False):
    """How to pull. Reads from data (JSON, Python dicts, JS objects) with
    every field optional and unknown fields refused.

    ```
    let options: template_market::PullOptions =
        serde_json::from_str(r#"{"platforms": ["linux/amd64"], "blob_parallelism": 8}"#)?;
    assert_eq!(options.image_parallelism, 4);
    assert!(serde_json::from_str::<template_market::PullOptions>(r#"{"platform": []}"#).is_err());
    # Ok::<(), serde_json::Error>(())
    ```"""

    blob_parallelism: int
    """Blobs fetched at once, at least 1."""

    image_parallelism: int
    """Images resolved at once (manifests fetched), at least 1."""

    platforms: List[str]
    """Keep only these platforms of a multi-platform image (an index):
    `os/architecture[/variant]` (`linux/arm64/v8`) or an architecture
    alone (`amd64`, any OS). Empty (the default) keeps the whole index.

    Filtering **changes what the market names**: when one platform of
    an index matches, the image is that platform's manifest (its
    digest, not the index's); when several match, the image is a new
    index listing only them, whose digest no registry has seen. The
    `PullReport` gives both digests of each image, so the template
    that uses it is pinned to the digest in the market. A single-
    platform image (a manifest, not an index) is kept as it is."""

    request_timeout_seconds: int
    """Timeout of one HTTP request, in seconds."""


class RegistryPublishReport(TypedDict):
    """What `RegistryMarket::publish_from` did. Serializes with its field
    names."""

    outcome: PublishOutcome
    """Created, unchanged or replaced, with the content digest."""

    reference: str
    """The version's reference in the registry (`<host>/<repo>:<tag>`)."""

    artifact: str
    """The digest of the version's artifact manifest."""

    transfer: RelocateReport
    """What was pushed: the images first, then the artifact."""

# A release transition as recorded in the registry. Serializes with its
# field names.
ReleaseTransition = TypedDict("ReleaseTransition", {"digest": str, "from": ReleaseState, "to": ReleaseState, "sequence": int, "previous": Optional[str], "created": str, "signer": Optional[str], "withdrawn": bool}, total=True)


class FetchReport(TypedDict):
    """What `RegistryMarket::fetch_into` did. Serializes with its field
    names."""

    outcome: PublishOutcome
    """How the version landed in the local market."""

    pull: PullReport
    """The images pulled."""


class _RegistryAccessRequired(TypedDict):
    registry: str
    """`host[:port][/prefix]`."""


class RegistryAccess(_RegistryAccessRequired, total=False):
    """A registry and how to reach it, as plain data: `{registry, insecure,
    username, password, auth_file, ca_file, public_roots}`. Turned into a
    `RegistryTarget` (reading the files it names) by
    `RegistryAccess::target`. Its `Debug` output hides the password."""

    auth_file: Optional[str]
    """A containers auth file (`auth.json`) or Docker `config.json` to
    take the credentials from."""

    ca_file: Optional[str]
    """A PEM file of extra certificate authorities to trust."""

    insecure: bool
    """Plain HTTP instead of HTTPS."""

    password: Optional[str]
    """Password of `username`."""

    public_roots: bool
    """Also trust the public web's root CAs (default true)."""

    username: Optional[str]
    """User name (with `password`); anonymous when absent."""


class RelocateOptions(TypedDict, total=False):
    """How to relocate. Serializes as `{parallelism, chunk_size, push_tags,
    request_timeout_seconds}`; absent fields keep their defaults."""

    chunk_size: int
    """Blobs larger than this are uploaded in chunks of this size."""

    parallelism: int
    """Blobs uploaded at once (at least 1)."""

    push_tags: bool
    """Also put each manifest by the tag of the image's name, if it has one."""

    request_timeout_seconds: float
    """Timeout of one HTTP request."""


DriftKind = Literal["env", "config_file", "replicas", "volume_size"]
"""What kind of value a user changed.

- ``env``: An env value of the component's container.
- ``config_file``: The content of a config file.
- ``replicas``: The replica count of the workload (or the autoscaler's minimum).
- ``volume_size``: The requested size of a volume."""


class _DetectedChangeRequired(TypedDict):
    component: str
    """Component key."""

    path: str
    """Path of the value, e.g. `components[upms].env[JAVA_OPTS]`."""

    kind: DriftKind
    """What changed."""

    object: str
    """Where it was found, as `Kind/name`."""

    recorded: str
    """The value recorded before (masked if secret)."""

    live: str
    """The value found on the cluster (masked if secret)."""


class DetectedChange(_DetectedChangeRequired, total=False):
    """One value changed on the cluster, now recorded as a customization."""

    not_kept: Optional[str]
    """Why the value is not kept, when the template does not allow it (an
    env var that is not editable, replicas outside the template's
    bounds): the next operation puts the template's value back."""


class OperationReport(TypedDict):
    """What an operation did. Serializes as plain data (the bindings hand it
    out as a dictionary or object)."""

    revision: int
    """Revision the operation is recorded as."""

    plan: Plan
    """The plan that ran."""

    drift: List[DetectedChange]
    """Values users changed directly on the cluster: kept by an upgrade;
    found before a rollback, which puts the recorded values back."""

    state: InstalledState
    """The installed state afterwards."""

    unchanged: bool
    """Nothing was to be done (e.g. a reconfiguration that changes no
    value): nothing was applied or recorded, and `revision` is the
    latest revision of the history."""


class DeliveryEventRelocating(TypedDict):
    """Images are being pushed to an environment's registry."""

    phase: Literal["relocating"]

    registry: str
    """Registry (`host[:port][/prefix]`) the images go to."""

    event: RelocateEvent
    """What just happened."""

    bytes_done: int
    """Bytes uploaded so far."""

    bytes_total: int
    """Bytes to upload in all (known once the registry was asked)."""

    blobs_done: int
    """Blobs uploaded so far."""

    blobs_total: int
    """Blobs to upload in all."""

    item: str
    """The current item, `<repository>@<digest>` or `:<tag>`."""


class DeliveryEventRelocated(TypedDict):
    """A registry holds every image of the version."""

    phase: Literal["relocated"]

    registry: str
    """Registry the images went to."""

    blobs_checked: int
    """Blobs asked about (per repository)."""

    blobs_skipped: int
    """Blobs the registry had already."""

    blobs_uploaded: int
    """Blobs uploaded (0 when the registry had everything)."""

    blobs_mounted: int
    """Blobs mounted from another repository of the registry instead of
    uploaded again (a base layer shared by several images)."""

    bytes_uploaded: int
    """Bytes uploaded."""

    manifests_pushed: int
    """Manifests (and tags) put."""

    manifests_skipped: int
    """Manifests the registry had already."""


class DeliveryEventStepApplied(TypedDict):
    """The objects of one step were applied to the cluster."""

    phase: Literal["step_applied"]

    environment: str
    """Environment name."""

    namespace: str
    """Namespace of the installation."""

    wave: int
    """Dependency wave of the step (steps of one wave run together)."""

    step: int
    """Step number in the plan."""

    component: str
    """Component of the step."""


class DeliveryEventWaiting(TypedDict):
    """The step's workloads are being waited for until they are ready."""

    phase: Literal["waiting"]

    environment: str
    """Environment name."""

    namespace: str
    """Namespace of the installation."""

    wave: int
    """Dependency wave of the step."""

    step: int
    """Step number in the plan."""

    component: str
    """Component of the step."""

    objects: List[str]
    """The workloads waited for, as `Kind/name`."""


class _DeliveryEventStepDoneRequired(TypedDict):
    phase: Literal["step_done"]

    environment: str
    """Environment name."""

    namespace: str
    """Namespace of the installation."""

    wave: int
    """Dependency wave of the step."""

    step: int
    """Step number in the plan."""

    component: str
    """Component of the step."""

    ok: bool
    """Whether the step succeeded."""


class DeliveryEventStepDone(_DeliveryEventStepDoneRequired, total=False):
    """A step finished: its workloads are ready, or it failed."""

    error: Optional[str]
    """Why it failed (none when it succeeded)."""


class DeliveryEventDone(TypedDict):
    """An operation on one environment ended and was recorded."""

    phase: Literal["done"]

    environment: str
    """Environment name."""

    namespace: str
    """Namespace of the installation."""

    template: str
    """Template id."""

    operation: PlanKind
    """Install, upgrade or rollback."""

    revision: int
    """Revision the operation was recorded as."""

    ok: bool
    """Whether every step succeeded."""


DeliveryEvent = Union[
    DeliveryEventRelocating,
    DeliveryEventRelocated,
    DeliveryEventStepApplied,
    DeliveryEventWaiting,
    DeliveryEventStepDone,
    DeliveryEventDone,
]
"""One progress event of a delivery."""


DeliveryAction = Literal["install", "upgrade", "unchanged"]
"""What `Delivery::deliver` does in one environment.

- ``install``: The template was not installed there: install the version.
- ``upgrade``: Another version was installed: upgrade to this one.
- ``unchanged``: This version was installed already: nothing to do."""


class ErrorData(TypedDict):
    """An error as plain data, classified like a thrown one: how a delivery
    reports an environment that failed."""

    code: str
    """The stable code of the error's class (`LOCKED`, `ROLLOUT`, ...)."""

    message: str
    """The message, for people."""

    details: Dict[str, Any]
    """The error's fields, with `kind` naming the case."""


class RelocationSummary(TypedDict):
    """What one relocation pushed to a registry."""

    registry: str
    """Registry (`host[:port][/prefix]`)."""

    images: int
    """Images of the version."""

    blobs_checked: int
    """Blobs asked about (per repository)."""

    blobs_skipped: int
    """Blobs the registry had already."""

    blobs_uploaded: int
    """Blobs uploaded (0 when the registry had everything)."""

    blobs_mounted: int
    """Blobs mounted from another repository of the registry instead of
    uploaded again (a base layer shared by several images)."""

    bytes_uploaded: int
    """Bytes uploaded."""

    manifests_pushed: int
    """Manifests (and tags) put."""

    manifests_skipped: int
    """Manifests the registry had already."""


class EnvironmentOutcome(TypedDict):
    """How `Delivery::deliver` ended in one environment. Exactly one of
    `report` and `error` is set, except for `DeliveryAction::Unchanged`
    where neither is. Serializes with the error as its message."""

    environment: str
    """Environment name."""

    namespace: str
    """Namespace of the installation."""

    action: Optional[DeliveryAction]
    """What was done; none when the installed state could not be read."""

    from_version: Optional[str]
    """Version installed before, if any."""

    to_version: str
    """Version delivered."""

    relocation: Optional[RelocationSummary]
    """The relocation of the images to the environment's registry (shared
    by the environments with the same registry); none without registry
    or when nothing was to be done."""

    report: Optional[OperationReport]
    """What the operation did, when it succeeded."""

    error: Optional[ErrorData]
    """Why it failed (relocation, cluster, rollout), classified like a thrown error; null when it succeeded."""


DefaultEvidence = Literal["last_applied", "applied_fields", "known_default"]
"""How a field was known to be set by the author or by Kubernetes.

- ``last_applied``: The `kubectl.kubernetes.io/last-applied-configuration` annotation.
- ``applied_fields``: The fields owned by a server-side-apply `Apply` manager.
- ``known_default``: No record of what the author sent; the value equals the known Kubernetes default."""


class DefaultedField(TypedDict):
    """A value left out because Kubernetes, not the author, set it."""

    object: str
    """`Kind/name`."""

    field: str
    """Path of the field."""

    value: str
    """The value found."""

    evidence: DefaultEvidence
    """How it was told apart from an authored value."""


DependencyConfidence = Literal["low", "medium", "high"]
"""Confidence of an inference.

- ``low``: A bare word that happens to equal a Service name.
- ``medium``: A whole value naming a Service in a host variable, or a reference to another component's ConfigMap or Secret.
- ``high``: A qualified DNS name, a host with a Service port, a URL, or a `*_HOST`/`*_PORT` pair that matches a Service."""

# One inferred dependency edge.
InferredDependency = TypedDict("InferredDependency", {"from": str, "to": str, "confidence": DependencyConfidence, "added": bool, "evidence": List[str]}, total=True)


class ExternalHost(TypedDict):
    """A host that matches no Service of the application."""

    component: str
    """Component key."""

    host: str
    """Host as written (with port if one was given)."""

    evidence: str
    """Where it was found, e.g. `env DATABASE_URL`."""


class FlaggedEnv(TypedDict):
    """A literal env value that looks confidential."""

    component: str
    """Component key."""

    variable: str
    """Variable name."""

    reason: str
    """Why it was flagged and what was done."""


ImageDigestSource = Literal["template", "pod_status", "registry", "unresolved"]
"""Source of an image digest.

- ``template``: The pod template pins the image by digest.
- ``pod_status``: The status of the workload's pods, whose repository matches.
- ``registry``: The registry, asked for the tag's digest.
- ``unresolved``: Unknown: resolve the tag with the registry before publishing."""


class ImageDecision(TypedDict):
    """Where one image of the draft came from."""

    component: str
    """Component key."""

    container: str
    """Container name in the pod template."""

    template_image: str
    """`image` of the pod template."""

    image: str
    """Reference written into the draft."""

    source: ImageDigestSource
    """Where the digest came from."""

    pod_digests: List[str]
    """Digests the workload's pods run, when they differ from each other
    or from the one chosen."""

    note: str
    """What to know about this image."""


class LossyField(TypedDict):
    """A field the draft cannot carry or carries changed."""

    component: str
    """Component key; empty for template-wide losses."""

    object: str
    """`Kind/name` of the object the field is in."""

    field: str
    """Path of the field in the object, e.g.
    `spec.template.spec.containers[web].securityContext`."""

    reason: str
    """What is lost and what to do."""


class CaptureNote(TypedDict):
    """A decision worth telling that fits no other list."""

    component: str
    """Component key; empty for template-wide notes."""

    message: str
    """What was decided and why."""


SecretHandling = Literal["required", "generated", "copied", "not_captured"]
"""How a secret value is carried.

- ``required``: A secret variable without value: the installer must give one.
- ``generated``: A secret generated at install time (shared by every use of the same `secret/key`).
- ``copied``: The value was copied into the draft, as the options asked.
- ``not_captured``: A file from a Secret: the model has no secret files; not captured."""


class SecretDecision(TypedDict):
    """What became of one value that comes from a Secret."""

    component: str
    """Component key."""

    variable: str
    """Variable (or file path) in the component."""

    source: str
    """`secret/key` it comes from."""

    handling: SecretHandling
    """What the draft holds."""


class SkippedObject(TypedDict):
    """An object left out of the draft."""

    object: str
    """`Kind/name`."""

    reason: str
    """Why."""


class _ModuleRequired(TypedDict):
    key: str
    """Identifier referenced by `components[].module`."""

    name: str
    """Display name."""

    optional: bool
    """Whether the installer may leave the module out."""

    enabled_by_default: bool
    """Whether an optional module is selected unless the installer says
    otherwise. Required modules are always installed."""


class Module(_ModuleRequired, total=False):
    """A module group: a set of components a customer can select or leave out."""

    description: str
    """What the module adds."""


Scope = Literal["team", "enterprise"]
"""Visibility of a template in a market.

- ``team``: Visible to one team.
- ``enterprise``: Visible to every team of the enterprise."""


class _TemplateCatalogueRequired(TypedDict):
    id: str
    """Stable identifier of the template across all its versions
    (lowercase letters, digits and `-`, at most 63 characters)."""

    name: str
    """Display name."""

    scope: Scope
    """Who may see the template in a market."""


class TemplateCatalogue(_TemplateCatalogueRequired, total=False):
    """Identity and catalogue data of a template, repeated in every version."""

    description: str
    """What the application does."""

    logo: Optional[str]
    """Digest (`sha256:<hex>`) of the logo image blob stored beside the
    template in a market or package."""

    tags: List[str]
    """Category tags (architecture, industry, deployment style...)."""


class _TemplateVersionRequired(TypedDict):
    format: str
    """Document format tag; must be `apptemplate.io/v1`."""

    template: TemplateCatalogue
    """The template this version belongs to."""

    version: str
    """Semantic version of this release, e.g. `2.1.0`. Upgrades follow
    semantic-version order."""

    release_state: ReleaseState
    """Where the version is in its life: draft, testing, released, deprecated.
    Not part of the content digest."""

    components: List[Component]
    """The components (services, databases, caches) of the application."""


class TemplateVersion(_TemplateVersionRequired, total=False):
    """One version of an application template."""

    alias: Optional[str]
    """Short human name of the version, e.g. "advanced edition"."""

    config_groups: List[ConfigGroup]
    """App-level configuration shared by several components."""

    created_at: Optional[str]
    """When the version was created (RFC 3339), supplied by the caller.
    Not part of the content digest."""

    modules: List[Module]
    """Module groups a customer can switch on or off at install time."""

    plugins: List[Plugin]
    """Plugins (sidecars and init containers) that components can attach."""

    release_notes: str
    """What changed in this version, for the people who install it."""


class CaptureReport(TypedDict):
    """The draft and every decision taken to make it."""

    version: TemplateVersion
    """The draft version (release state `draft`). It may not validate when
    an image digest is unresolved (see `CaptureReport::images`)."""

    skipped: List[SkippedObject]
    """Objects left out on purpose, and why."""

    unsupported: List[SkippedObject]
    """Objects of kinds the model cannot express; nothing of them is in the
    draft."""

    lossy: List[LossyField]
    """Fields of captured objects the draft cannot carry, or carries
    changed."""

    defaulted: List[DefaultedField]
    """Values left out because Kubernetes defaulted them, with the evidence."""

    secrets: List[SecretDecision]
    """What became of every value that comes from a Secret."""

    flagged_env: List[FlaggedEnv]
    """Literal env values whose names look confidential."""

    dependencies: List[InferredDependency]
    """Dependencies between components, with evidence and confidence."""

    external_hosts: List[ExternalHost]
    """Hosts named in env or config files that match no Service of the
    application."""

    images: List[ImageDecision]
    """Where each image reference and digest came from."""

    notes: List[CaptureNote]
    """Other decisions (main container chosen, names derived, hosts
    rewritten), one sentence each."""


class PublishFromClusterProgressCapture(TypedDict):
    """Reading the application's objects."""

    stage: Literal["capture"]

    namespace: str
    """Namespace read."""


class PublishFromClusterProgressCaptured(TypedDict):
    """The draft is made."""

    stage: Literal["captured"]

    template: str
    """Template id of the draft."""

    components: int
    """Components captured."""

    images: int
    """Distinct images to pull."""


class PublishFromClusterProgressPull(TypedDict):
    """Pulling images; the fields of `template_market::PullProgress`."""

    stage: Literal["pull"]

    event: PullEvent
    """What happened."""

    bytes_done: int
    """Bytes fetched so far from the registry being pulled from."""

    bytes_total: int
    """Bytes to fetch from it."""

    blobs_done: int
    """Blobs fetched so far."""

    blobs_total: int
    """Blobs to fetch."""

    image: str
    """The image concerned, or the registry."""

    blob: str
    """The blob or manifest digest concerned, or empty."""


class PublishFromClusterProgressPublish(TypedDict):
    """Publishing the pinned draft."""

    stage: Literal["publish"]

    template: str
    """Template id."""

    version: str
    """Version number."""


PublishFromClusterProgress = Union[
    PublishFromClusterProgressCapture,
    PublishFromClusterProgressCaptured,
    PublishFromClusterProgressPull,
    PublishFromClusterProgressPublish,
]
"""One progress report of a publish from a cluster. Serializes with a
`stage` field (`capture`, `captured`, `pull`, `publish`) and the
stage's fields."""


class PublishFromClusterReport(TypedDict):
    """What a publish from a cluster did. Serializes with its field names."""

    template: str
    """Template id."""

    version: str
    """The version published, or the base when nothing changed."""

    outcome: Optional[PublishOutcome]
    """What the market did; `None` when the application equals the base
    and nothing was published."""

    base: Optional[str]
    """The newest version the market had before, whose catalogue data
    and descriptions were carried into the draft."""

    changes: Optional[VersionDiff]
    """What changed from the base to the published version."""

    capture: CaptureReport
    """The capture, with the draft as published (images pinned to the
    market's digests, data carried from the base)."""

    pull: PullReport
    """The pull."""


class _EnvironmentProfileRequired(TypedDict):
    name: str
    """Name people use for it, e.g. `prod-qingdao`."""

    namespace: str
    """Namespace the application is installed into."""


class EnvironmentProfile(_EnvironmentProfileRequired, total=False):
    """One delivery target: a cluster context, a namespace, the registry its
    nodes pull from, and its rules."""

    context: Optional[str]
    """kubeconfig context; none means the current context."""

    env_overrides: Dict[str, Dict[str, str]]
    """Per-environment overrides of env values, by component key."""

    registry: Optional[str]
    """Registry the cluster pulls from (`host[:port][/prefix]`); images are
    relocated there and referenced by digest."""

    released_only: bool
    """Only released versions may be installed (production)."""

    storage_class: Optional[str]
    """Storage class used instead of the template's hints."""


Exposure = Literal["node_port", "load_balancer"]
"""How outer ports are exposed in an environment.

- ``node_port``: A port on every node.
- ``load_balancer``: A cloud or on-premises load balancer."""


class ExecutorOptions(TypedDict, total=False):
    """How the executor works. Serializes flat as `{identity,
    wait_timeout_seconds, poll_interval_seconds, concurrency,
    lease_duration_seconds, exposure}`; absent fields keep the defaults of
    `ExecutorOptions::new` (holder `apptemplate`)."""

    concurrency: int
    """Steps of one dependency wave applied at the same time (default 4, at
    least 1)."""

    exposure: Exposure
    """How outer ports are exposed (default `node_port`)."""

    identity: str
    """Who holds the installation's lock while an operation runs (default
    `apptemplate`)."""

    lease_duration_seconds: float
    """The lock's lease expires this many seconds after its last renewal
    (default 30)."""

    poll_interval_seconds: float
    """Seconds to wait before watching a workload again when the API server
    ended a watch early; readiness is watched, not polled (default 0.1)."""

    wait_timeout_seconds: float
    """Give up on a workload not ready after this many seconds (default 300)."""


class DeliveryOptions(TypedDict, total=False):
    """How a `Delivery` reaches clusters and registries and how it works:
    `{kubeconfig, registries, executor, relocate, environments_at_once}`."""

    environments_at_once: int
    """Environments a `deliver` works on at once (default 4, at least 1;
    1 delivers one after another)."""

    executor: ExecutorOptions
    """Readiness waits, concurrency, lock and exposure."""

    kubeconfig: Optional[str]
    """kubeconfig file; the default one (`$KUBECONFIG`, `~/.kube/config`)
    when absent. Each profile's `context` selects the cluster in it."""

    registries: List[RegistryAccess]
    """Access to the registries profiles name; others are reached
    anonymously over HTTPS."""

    relocate: RelocateOptions
    """How images are relocated to the registries."""


class CaptureOptions(TypedDict, total=False):
    """Choices of the caller."""

    copy_secret_values: List[str]
    """Secret values to copy into the draft, one entry per key as
    `secret/key`. Nothing else is ever copied."""

    generate_secrets: List[str]
    """Secret variables to turn into secrets generated at install time
    instead of values required at install: each entry is a variable
    name or `secret/key`, with `*` matching any run of characters
    (e.g. `*_PASSWORD`)."""

    template_id: Optional[str]
    """Template id of the draft; default: the `app.kubernetes.io/instance`
    label the workloads share, else the namespace."""

    template_name: Optional[str]
    """Display name; default: the template id."""

    version: Optional[str]
    """Version of the draft; default `0.1.0` (a publish into a market
    that has the template takes the next minor version after its
    newest instead)."""


class PublishFromClusterOptions(TypedDict, total=False):
    """How to publish a running application. Reads from data (JSON, Python
    dicts, JS objects) with every field optional and unknown fields
    refused.

    ```
    let options: template_delivery::PublishFromClusterOptions = serde_json::from_str(
        r#"{"capture": {"template_id": "shop"}, "registries": [{"registry": "127.0.0.1:5000", "insecure": true}]}"#,
    )?;
    assert!(options.node_platforms);
    assert!(serde_json::from_str::<template_delivery::PublishFromClusterOptions>(r#"{"registry": []}"#).is_err());
    # Ok::<(), serde_json::Error>(())
    ```"""

    capture: CaptureOptions
    """How to capture: template id and name, version number (default: the
    next minor version after the newest in the market, or `0.1.0` for
    a new template), secrets."""

    node_platforms: bool
    """When `pull.platforms` is empty, keep only the platforms of the
    cluster's nodes (`linux/<architecture>` of each node) of a
    multi-platform image (default `true`). When the nodes cannot be
    listed, every platform is kept and the report says so."""

    overwrite: bool
    """Replace a draft or testing version of the same number whose
    content differs (default `false`: such a publish is refused)."""

    pull: PullOptions
    """How to pull the images."""

    registries: List[RegistryAccess]
    """The registries the images are pulled from and how to reach them
    (`RegistryAccess::target_for`); a registry not listed is reached
    anonymously over HTTPS, with the default auth files' credentials."""


# Names this package used before the types were generated.
Environment = EnvironmentProfile
ImageInfo = ImageRef
ImportedVersion = ImportedVersionReport
PackageProgress = TransferProgress
PulledImageRef = ImageRef
TemplateInfo = TemplateSummary
VersionInfo = VersionSummary

Data = Dict[str, Any]
"""Any value as a dict: the Rust JSON as it is."""

__all__ = [
    "AccessMode",
    "Alphabet",
    "CaptureNote",
    "CaptureOptions",
    "CaptureReport",
    "ChangeKind",
    "Component",
    "ComponentDiff",
    "CompressionName",
    "ConfigFile",
    "ConfigFileInput",
    "ConfigGroup",
    "ConnectionVarInput",
    "Customizations",
    "Data",
    "DefaultEvidence",
    "DefaultedField",
    "DeliveryAction",
    "DeliveryEvent",
    "DeliveryEventDone",
    "DeliveryEventRelocated",
    "DeliveryEventRelocating",
    "DeliveryEventStepApplied",
    "DeliveryEventStepDone",
    "DeliveryEventWaiting",
    "DeliveryOptions",
    "DependencyConfidence",
    "DetectedChange",
    "DiffLine",
    "DriftKind",
    "DroppedCustomization",
    "EnvVar",
    "EnvVarInput",
    "Environment",
    "EnvironmentOutcome",
    "EnvironmentProfile",
    "ErrorData",
    "ExecProbe",
    "ExecutorOptions",
    "ExportBase",
    "ExportBaseInventory",
    "ExportBaseVersions",
    "ExportOptions",
    "ExportReport",
    "Exposure",
    "ExternalHost",
    "FetchReport",
    "FieldChange",
    "FlaggedEnv",
    "GcReport",
    "HttpProbe",
    "ImageDecision",
    "ImageDigestSource",
    "ImageInfo",
    "ImageRef",
    "ImportOptions",
    "ImportReport",
    "ImportedVersion",
    "ImportedVersionOutcome",
    "ImportedVersionReport",
    "IncrementalChange",
    "IncrementalSummary",
    "InferredDependency",
    "InstallOptions",
    "InstalledComponent",
    "InstalledState",
    "Inventory",
    "InventoryVersion",
    "KeepReason",
    "KeptCustomization",
    "KeyPair",
    "LineHunk",
    "LineKind",
    "LossyField",
    "MarketOptions",
    "Module",
    "ModuleInput",
    "OperationReport",
    "Outcome",
    "OutcomeFailedAtStep",
    "OutcomePartlyApplied",
    "OutcomeSucceeded",
    "Overrides",
    "PackageProgress",
    "Plan",
    "PlanKind",
    "PlannedChange",
    "Plugin",
    "PluginAttachment",
    "PluginInput",
    "PluginKind",
    "PortInput",
    "ProbeInput",
    "Probes",
    "Problem",
    "ProblemKind",
    "Protocol",
    "PublishFromClusterOptions",
    "PublishFromClusterProgress",
    "PublishFromClusterProgressCapture",
    "PublishFromClusterProgressCaptured",
    "PublishFromClusterProgressPublish",
    "PublishFromClusterProgressPull",
    "PublishFromClusterReport",
    "PublishOutcome",
    "PublishOutcomeCreated",
    "PublishOutcomeReplaced",
    "PublishOutcomeUnchanged",
    "PullEvent",
    "PullOptions",
    "PullProgress",
    "PullReport",
    "PulledImage",
    "PulledImageRef",
    "RecordSummary",
    "RegistryAccess",
    "RegistryPublishReport",
    "ReleaseState",
    "ReleaseTransition",
    "RelocateEvent",
    "RelocateOptions",
    "RelocateProgress",
    "RelocateReport",
    "RelocatedImage",
    "RelocationSummary",
    "RetainedVolume",
    "RollbackOptions",
    "Rule",
    "ScalingInput",
    "Scope",
    "SecretDecision",
    "SecretHandling",
    "SecretRule",
    "SecretRuleInput",
    "SecretToGenerate",
    "Section",
    "SkippedObject",
    "StateCustomizations",
    "Step",
    "StepAction",
    "TcpProbe",
    "TemplateCatalogue",
    "TemplateInfo",
    "TemplateSummary",
    "TemplateVersion",
    "TransferPhase",
    "TransferProgress",
    "UpgradeOptions",
    "UpgradeRecord",
    "VerifyReport",
    "VersionDiff",
    "VersionInfo",
    "VersionSummary",
    "Volume",
    "VolumeCustomization",
    "VolumeInput",
]
