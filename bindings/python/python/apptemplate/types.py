"""Types of the plain data apptemplate returns.

These describe dicts for type checkers; at run time the values are ordinary
dicts and lists with the content of the Rust JSON.
"""

from typing import Any, Dict, List, Literal, Optional, TypedDict

ReleaseState = Literal["draft", "testing", "released", "deprecated"]
"""Where a version is in its life cycle."""


class Problem(TypedDict):
    """One thing wrong with a document."""

    path: str
    """Where, e.g. ``components[gateway].ports[1].port``."""
    kind: str
    """What kind of problem, for programs, e.g. ``image_without_digest``."""
    message: str
    """What is wrong and what to do, for people."""


class _PublishOutcomeRequired(TypedDict):
    outcome: Literal["created", "unchanged", "replaced"]
    digest: str


class PublishOutcome(_PublishOutcomeRequired, total=False):
    """What a publish did or would do."""

    previous: str
    """For ``replaced``: the digest of the content that was replaced."""


class IncrementalSummary(TypedDict):
    """What an incremental publish took from where (component keys)."""

    replaced: List[str]
    added: List[str]
    carried_over: List[str]


class _IncrementalChangeRequired(TypedDict):
    version: str
    """The new version number; must be newer than the base."""


class IncrementalChange(_IncrementalChangeRequired, total=False):
    """An incremental publish: the new version number and only what changed.

    Components, plugins and modules are document dicts (as in
    ``Template.to_dict()``) that replace the base's entry of the same key, or
    are added when the key is new. Unknown keys are refused.
    """

    alias: Optional[str]
    release_notes: str
    created_at: Optional[str]
    components: List[Dict[str, Any]]
    plugins: List[Dict[str, Any]]
    modules: List[Dict[str, Any]]
    config_groups: List[Dict[str, Any]]


class ImageInfo(TypedDict):
    """An image the market holds."""

    name: str
    """Name without digest, e.g. ``registry.example.com/pig/gateway:3.8.2``."""
    digest: str
    """Manifest digest."""
    reference: str
    """``name@digest``, the form template documents use."""


class VersionInfo(TypedDict):
    """A version as the market lists it."""

    template: str
    version: str
    state: ReleaseState
    content_digest: str


class TemplateInfo(TypedDict):
    """A template and its versions, oldest first."""

    id: str
    name: str
    versions: List[VersionInfo]


class KeyPair(TypedDict):
    """A signing key pair from :func:`generate_key_pair` (the Rust ``KeyPairText``)."""

    key_id: str
    """The key's id, as minisign prints it."""
    public_key: str
    """The public key as one base64 line; give it to importers."""
    public_key_file: str
    """minisign ``.pub`` file text of the public key."""
    secret_key: str
    """minisign secret key file text (unencrypted); keep it secret."""


class ExportBase(TypedDict, total=False):
    """A differential export's base: exactly one of the two keys."""

    versions: List[str]
    inventory: Dict[str, Any]


class RelocateOptions(TypedDict, total=False):
    """How a relocation works (the Rust ``RelocateOptions``)."""

    parallelism: int
    chunk_size: int
    push_tags: bool
    request_timeout_seconds: float


class ExecutorOptions(TypedDict, total=False):
    """How the executor works (the Rust ``ExecutorOptions``)."""

    identity: str
    wait_timeout_seconds: float
    poll_interval_seconds: float
    concurrency: int
    lease_duration_seconds: float
    exposure: Literal["node_port", "load_balancer"]


class PackageProgress(TypedDict):
    """One progress report of an export or import."""

    phase: Literal["export", "import", "commit", "done"]
    bytes_done: int
    bytes_total: int
    items_done: int
    items_total: int
    item: str


class RelocateProgress(TypedDict):
    """One progress report of a relocation."""

    event: str
    """``skipped``, ``uploading``, ``uploaded``, ``mounted``, ``manifest_pushed``, ``manifest_skipped`` or ``done``."""
    bytes_done: int
    bytes_total: int
    blobs_done: int
    blobs_total: int
    item: str


class ExportReport(TypedDict):
    """What an export wrote."""

    manifest_digest: str
    carried_blobs: int
    carried_bytes: int
    omitted_blobs: int
    omitted_bytes: int
    archive_bytes: int
    files: List[str]


class ImportedVersion(TypedDict):
    version: str
    outcome: Literal["added", "unchanged"]


class ImportReport(TypedDict):
    """What an import did."""

    manifest_digest: str
    template: str
    versions: List[ImportedVersion]
    signer: Optional[str]
    blobs_written: int
    bytes_written: int
    blobs_skipped: int


class RelocatedImage(TypedDict):
    name: str
    digest: str
    relocated: str
    """``<registry>/<repository>@<digest>``."""


class RelocateReport(TypedDict):
    """What a relocation did."""

    blobs_checked: int
    blobs_skipped: int
    blobs_uploaded: int
    blobs_mounted: int
    bytes_uploaded: int
    manifests_pushed: int
    manifests_skipped: int
    images: List[RelocatedImage]


class GcReport(TypedDict):
    blobs_removed: int
    bytes_freed: int


class VerifyReport(TypedDict):
    blobs_checked: int
    problems: List[str]


class _RegistryAccessRequired(TypedDict):
    registry: str


class RegistryAccess(_RegistryAccessRequired, total=False):
    """How :class:`Delivery` reaches a registry a profile names."""

    insecure: bool
    username: str
    password: str
    auth_file: str
    ca_file: str
    public_roots: bool


class _EnvironmentRequired(TypedDict):
    name: str
    namespace: str


class Environment(_EnvironmentRequired, total=False):
    """An environment profile (the Rust ``EnvironmentProfile``)."""

    context: Optional[str]
    registry: Optional[str]
    released_only: bool
    env_overrides: Dict[str, Dict[str, str]]
    storage_class: Optional[str]


Data = Dict[str, Any]
"""A diff, plan, installed state, record or report: the Rust JSON as a dict."""


__all__ = [
    "Data",
    "Environment",
    "ExecutorOptions",
    "ExportBase",
    "ExportReport",
    "GcReport",
    "ImageInfo",
    "ImportReport",
    "ImportedVersion",
    "IncrementalChange",
    "IncrementalSummary",
    "KeyPair",
    "PackageProgress",
    "Problem",
    "PublishOutcome",
    "RegistryAccess",
    "RelocateOptions",
    "RelocateProgress",
    "RelocateReport",
    "RelocatedImage",
    "ReleaseState",
    "TemplateInfo",
    "VerifyReport",
    "VersionInfo",
]
