"""Type stubs of the Rust extension module (checked by mypy's stubtest)."""

import os
import pathlib
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union, final

from apptemplate.types import (
    CaptureReport,
    Data,
    Environment,
    EnvironmentOutcome,
    ExecutorOptions,
    ExportBase,
    ExportReport,
    FetchReport,
    GcReport,
    ImageInfo,
    ImportReport,
    IncrementalChange,
    IncrementalSummary,
    InstalledState,
    Inventory,
    KeyPair,
    OperationReport,
    PackageProgress,
    Plan,
    Problem,
    PublishFromClusterReport,
    PublishOutcome,
    PullOptions,
    PullProgress,
    PullReport,
    RecordSummary,
    RegistryAccess,
    RegistryPublishReport,
    RelocateOptions,
    RelocateProgress,
    RelocateReport,
    RelocationSummary,
    ReleaseState,
    ReleaseTransition,
    TemplateInfo,
    TemplateVersion,
    UpgradeRecord,
    VerifyReport,
    VersionDiff,
    VersionInfo,
)

_Path = Union[str, os.PathLike[str]]

__all__ = [
    "Delivery",
    "DocumentError",
    "InsufficientSpaceError",
    "InvalidArgumentError",
    "InvalidVersionError",
    "KubernetesError",
    "LockedError",
    "Market",
    "MarketError",
    "MissingBaseError",
    "NotFoundError",
    "OperationCancelledError",
    "PackageIntegrityError",
    "PreconditionError",
    "RegistryError",
    "RegistryMarket",
    "ReleaseGateError",
    "ReleaseStateError",
    "RolloutError",
    "SignatureError",
    "Template",
    "TemplateError",
    "TemplateMismatchError",
    "ValidationError",
    "VersionConflictError",
    "WriteError",
    "apply",
    "apply_steps",
    "build_incremental",
    "capture",
    "capture_objects",
    "check_publish",
    "customize",
    "diff",
    "diff_text",
    "empty_state",
    "generate_key_pair",
    "install_state",
    "plan_install",
    "plan_json",
    "plan_rollback",
    "plan_text",
    "plan_upgrade",
    "publish_from_cluster",
    "record_applied_steps",
    "record_state_after",
    "upgrade_candidates",
    "upgrade_record",
]

@final
class Template:
    """One version of an application template."""

    @staticmethod
    def from_json(text: Union[str, bytes], *, max_bytes: Optional[int] = None) -> Template:
        """Loads a document from JSON text."""
    @staticmethod
    def from_yaml(text: Union[str, bytes], *, max_bytes: Optional[int] = None) -> Template:
        """Loads a document from YAML text."""
    @staticmethod
    def from_dict(document: Union[Dict[str, Any], TemplateVersion]) -> Template:
        """Loads a document from a dict shaped like its JSON."""
    def validate(self) -> List[Problem]:
        """Every problem of the document; empty when it is valid."""
    def ensure_valid(self) -> None:
        """Raises ValidationError (with problems) unless the document is valid."""
    def content_digest(self) -> str:
        """sha256:<hex> of the content, whatever the format, state or creation time."""
    def to_json(self) -> str:
        """The document as pretty JSON text."""
    def to_yaml(self) -> str:
        """The document as YAML text."""
    def to_dict(self) -> Dict[str, Any]:
        """The document as a dict, with the content of its JSON."""
    @property
    def id(self) -> str:
        """Template id."""
    @property
    def version(self) -> str:
        """Version number as written."""
    @property
    def release_state(self) -> ReleaseState:
        """Where the version is in its life cycle."""
    def set_release_state(self, state: ReleaseState) -> None:
        """Moves the version to another release state, as the life cycle allows."""
    def __copy__(self) -> Template: ...
    def __deepcopy__(self, _memo: Any) -> Template: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...

def upgrade_candidates(
    installed: Template, available: Sequence[Template], *, released_only: bool = False
) -> List[Template]:
    """Versions of the same template newer than `installed`, oldest first."""

def check_publish(
    existing: Optional[Template], candidate: Template, *, overwrite: bool = False
) -> PublishOutcome:
    """Whether `candidate` may be published where the market holds `existing`."""

def build_incremental(base: Template, change: IncrementalChange) -> Tuple[Template, IncrementalSummary]:
    """A new version from `base` with the components, plugins and modules of `change`."""

def diff(old: Template, new: Template) -> VersionDiff:
    """What changed from `old` to `new` (same template), secret values masked."""

def diff_text(old: Template, new: Template) -> str:
    """The diff from `old` to `new` as text for people."""

def plan_install(version: Template, options: Optional[Mapping[str, Any]] = None) -> Plan:
    """The plan installing `version`; `options` shaped like the Rust InstallOptions."""

def plan_upgrade(
    installed: Mapping[str, Any], old: Template, new: Template, options: Optional[Mapping[str, Any]] = None
) -> Plan:
    """The plan upgrading `installed` (at `old`) to `new`, keeping the user's changes."""

def plan_rollback(
    record: Mapping[str, Any], current: Mapping[str, Any], options: Optional[Mapping[str, Any]] = None
) -> Plan:
    """The plan returning `current` to the state recorded before `record`."""

def plan_text(plan: Mapping[str, Any]) -> str:
    """A plan as text for people."""

def plan_json(plan: Mapping[str, Any]) -> str:
    """A plan as pretty JSON with every secret value masked."""

def apply(state: Mapping[str, Any], plan: Mapping[str, Any]) -> InstalledState:
    """The installed state after every step of `plan` ran on `state`."""

def apply_steps(state: Mapping[str, Any], plan: Mapping[str, Any], steps: Sequence[int]) -> InstalledState:
    """The installed state after only the steps numbered in `steps` ran."""

def install_state(plan: Mapping[str, Any]) -> InstalledState:
    """The installed state an install plan leads to."""

def upgrade_record(
    before: Mapping[str, Any],
    plan: Mapping[str, Any],
    outcome: Mapping[str, Any],
    *,
    started_at: Optional[str] = None,
    finished_at: Optional[str] = None,
) -> UpgradeRecord:
    """An upgrade record of `plan` run on `before`, ended with `outcome`."""

def record_state_after(record: Mapping[str, Any]) -> InstalledState:
    """The installed state after a record's plan, as far as its outcome says it ran."""

def record_applied_steps(record: Mapping[str, Any]) -> List[int]:
    """The numbers of the steps a record's plan did."""

def empty_state(template: str) -> InstalledState:
    """The installed state of `template` before its first install."""

def customize(
    state: Mapping[str, Any],
    *,
    env: Optional[Mapping[str, Mapping[str, str]]] = None,
    config_files: Optional[Mapping[str, Mapping[str, str]]] = None,
    replicas: Optional[Mapping[str, int]] = None,
    volume_capacities: Optional[Mapping[str, Mapping[str, str]]] = None,
) -> InstalledState:
    """`state` with user edits recorded as customizations (kept by upgrades)."""

def generate_key_pair() -> KeyPair:
    """A new Ed25519 key pair for signing packages."""

@final
class Market:
    """A local market rooted at a directory."""

    def __new__(cls, root: _Path, *, lock_timeout_seconds: Optional[float] = None) -> Market: ...
    @staticmethod
    def open(root: _Path, *, lock_timeout_seconds: Optional[float] = None) -> Market:
        """Same as Market(root, ...); the keyword options are the Rust ``MarketOptions``."""
    @property
    def root(self) -> pathlib.Path:
        """The market's directory."""
    def add_oci_layout(self, directory: _Path, names: Optional[Sequence[str]] = None) -> List[ImageInfo]:
        """Adds the images of an OCI image layout directory."""
    def add_docker_archive(self, tarball: _Path) -> List[ImageInfo]:
        """Adds the images of a docker save tarball."""
    def add_blob(self, data: bytes) -> str:
        """Stores a blob (e.g. a logo) and returns its digest."""
    def images(self) -> List[ImageInfo]:
        """Every image the market names."""
    def publish(self, template: Template, *, overwrite: bool = False) -> PublishOutcome:
        """Publishes a version whose images and logo are in the market."""
    def templates(self) -> List[TemplateInfo]:
        """Every template with its versions."""
    def versions(self, template: str) -> List[VersionInfo]:
        """The versions of `template`, oldest first."""
    def version(self, template: str, version: str) -> Template:
        """One version's document, validated as it is read."""
    def document(self, template: str, version: str) -> Template:
        """One version's document as stored, not validated."""
    def set_release_state(self, template: str, version: str, state: ReleaseState) -> None:
        """Moves a version to another release state, as the life cycle allows."""
    def inventory(self) -> Inventory:
        """What the market holds, for differential exports aimed at it."""
    def export(
        self,
        path: _Path,
        template: str,
        versions: Sequence[str],
        *,
        progress: Optional[Callable[[PackageProgress], object]] = None,
        base: Union[Literal["full"], ExportBase] = "full",
        signing_key: Optional[str] = None,
        part_size: Optional[int] = None,
        compression: Literal["zstd", "none"] = "zstd",
        compression_level: Optional[int] = None,
        allow_draft: bool = False,
    ) -> ExportReport:
        """Writes an offline package (full or differential, optionally signed or split).

        The keyword options are the Rust ``ExportOptions``. An exception
        raised by ``progress`` stops the export (no file is left at ``path``)
        and is re-raised.
        """
    def import_package(
        self,
        source: Union[_Path, Sequence[_Path]],
        *,
        progress: Optional[Callable[[PackageProgress], object]] = None,
        trusted_keys: Sequence[str] = (),
        allow_unsigned: bool = False,
        allow_untrusted: bool = False,
        reserve_bytes: int = 0,
    ) -> ImportReport:
        """Imports a package file, or its parts in order.

        The keyword options are the Rust ``ImportOptions``. An exception
        raised by ``progress`` while blobs are imported stops the import,
        leaving the market unchanged (a rerun reuses what was staged), and is
        re-raised.
        """
    def relocate_version(
        self,
        template: str,
        version: str,
        target: Union[str, RegistryAccess],
        *,
        progress: Optional[Callable[[RelocateProgress], object]] = None,
        parallelism: int = 4,
        chunk_size: int = 64 << 20,
        push_tags: bool = True,
        request_timeout_seconds: float = 600,
    ) -> RelocateReport:
        """Pushes every image of a version to a registry, skipping what is there.

        ``target`` is ``host[:port][/prefix]`` or a ``RegistryAccess``; the
        keyword options are the Rust ``RelocateOptions``.
        """
    def pull(
        self,
        images: Sequence[str],
        source: Union[str, RegistryAccess],
        *,
        progress: Optional[Callable[[PullProgress], object]] = None,
        image_parallelism: int = 4,
        blob_parallelism: int = 4,
        platforms: Sequence[str] = (),
        request_timeout_seconds: float = 600,
    ) -> PullReport:
        """Pulls images from a registry into the market, skipping what it has.

        ``source`` is ``host[:port]`` or a ``RegistryAccess``; the keyword
        options are the Rust ``PullOptions``.
        """
    def delete_version(self, template: str, version: str, *, force: bool = False) -> None:
        """Removes a version; released and deprecated ones need force."""
    def gc(self) -> GcReport:
        """Deletes unreferenced blobs and abandoned imports."""
    def verify(self) -> VerifyReport:
        """Hashes every blob and checks every version has its blobs."""

@final
class RegistryMarket:
    """A market on an OCI registry, at ``oci://host[:port]/namespace``."""

    def __new__(cls, location: str, registries: Optional[Sequence[Union[str, RegistryAccess]]] = None) -> RegistryMarket: ...
    @property
    def location(self) -> str:
        """The market's location, ``oci://host[:port]/namespace``."""
    def publish_from(
        self,
        market: Market,
        template: str,
        version: str,
        *,
        overwrite: bool = False,
        progress: Optional[Callable[[RelocateProgress], object]] = None,
        parallelism: int = 4,
        chunk_size: int = 64 << 20,
        push_tags: bool = True,
        request_timeout_seconds: float = 600,
    ) -> RegistryPublishReport:
        """Publishes a version of a local market here: its images, then its artifact.

        The keyword options are the Rust ``RelocateOptions``. An exception
        raised by ``progress`` stops the publication and is re-raised.
        """
    def versions(self, template: str) -> List[VersionInfo]:
        """The versions of `template`, oldest first."""
    def templates(self) -> List[TemplateInfo]:
        """Every template with its versions."""
    def version(self, template: str, version: str) -> Template:
        """One version's document, with its current release state."""
    def transitions(self, template: str, version: str) -> List[ReleaseTransition]:
        """The release transitions of a version, in chain order."""
    def set_release_state(
        self, template: str, version: str, state: ReleaseState, *, signing_key: Optional[str] = None
    ) -> Optional[ReleaseTransition]:
        """Moves a version to another release state; None when it is in that state already."""
    def fetch_into(
        self,
        market: Market,
        template: str,
        version: str,
        *,
        progress: Optional[Callable[[PullProgress], object]] = None,
        image_parallelism: int = 4,
        blob_parallelism: int = 4,
        platforms: Sequence[str] = (),
        request_timeout_seconds: float = 600,
    ) -> FetchReport:
        """Pulls a version and its images from here into a local market.

        The keyword options are the Rust ``PullOptions``. An exception
        raised by ``progress`` stops the fetch and is re-raised.
        """

@final
class Delivery:
    """Delivers versions of a market to Kubernetes environments.

    An exception raised by the ``progress`` callable of ``install``,
    ``upgrade``, ``reconfigure``, ``rollback`` or ``deliver`` stops the
    operation at its next safe point (between two waves; no further
    environment) and is re-raised; the record lists the steps applied.
    """

    def __new__(
        cls,
        market: Market,
        *,
        kubeconfig: Optional[_Path] = None,
        registries: Sequence[RegistryAccess] = (),
        executor: Optional[ExecutorOptions] = None,
        relocate: Optional[RelocateOptions] = None,
    ) -> Delivery: ...
    def state(self, env: Environment, template: str) -> Optional[InstalledState]:
        """The installed state of `template` in `env`, or None."""
    def history(self, env: Environment, template: str) -> List[RecordSummary]:
        """The history of `template` in `env`, oldest first."""
    def relocate(
        self, env: Environment, template: str, version: str, *, progress: Optional[Callable[[Data], object]] = None
    ) -> Optional[RelocationSummary]:
        """Pushes a version's images to the environment's registry; None without registry."""
    def install(
        self,
        env: Environment,
        template: str,
        version: str,
        options: Optional[Mapping[str, Any]] = None,
        *,
        progress: Optional[Callable[[Data], object]] = None,
    ) -> OperationReport:
        """Installs a version: release gate, relocation, then the plan in waves."""
    def upgrade(
        self,
        env: Environment,
        template: str,
        to: str,
        options: Optional[Mapping[str, Any]] = None,
        *,
        progress: Optional[Callable[[Data], object]] = None,
    ) -> OperationReport:
        """Upgrades the installed version to `to`, keeping the user's changes."""
    def reconfigure(
        self,
        env: Environment,
        template: str,
        options: Optional[Mapping[str, Any]] = None,
        *,
        progress: Optional[Callable[[Data], object]] = None,
    ) -> OperationReport:
        """Reconfigures at the installed version (modules, prune, overrides); recorded, rollback-able."""
    def rollback(
        self,
        env: Environment,
        template: str,
        revision: int,
        options: Optional[Mapping[str, Any]] = None,
        *,
        progress: Optional[Callable[[Data], object]] = None,
    ) -> OperationReport:
        """Returns the installation to the state before `revision`."""
    def deliver(
        self,
        envs: Sequence[Environment],
        template: str,
        version: str,
        *,
        progress: Optional[Callable[[Data], object]] = None,
    ) -> List[EnvironmentOutcome]:
        """One version to several environments; one outcome per environment."""

def capture(
    environment: Environment,
    *,
    kubeconfig: Optional[_Path] = None,
    selector: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
) -> CaptureReport:
    """Captures the application in the environment's namespace as a draft version and a report; only reads."""

def capture_objects(
    namespace: str,
    objects: Sequence[Mapping[str, Any]],
    *,
    options: Optional[Mapping[str, Any]] = None,
) -> CaptureReport:
    """Converts API objects of one namespace into a draft version and a report, without a cluster."""

def publish_from_cluster(
    market: Market,
    environment: Environment,
    *,
    kubeconfig: Optional[_Path] = None,
    selector: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
    progress: Optional[Callable[[Data], object]] = None,
) -> PublishFromClusterReport:
    """Captures the application, pulls its images into the market and publishes it as a version."""

class TemplateError(Exception):
    """Base class of every error apptemplate raises."""

    code: str
    details: Dict[str, Any]

class DocumentError(TemplateError):
    """The input is not a readable template document."""

class ValidationError(TemplateError):
    """The document breaks template rules."""

    problems: List[Problem]

class InvalidVersionError(TemplateError):
    """A version number is not a semantic version."""

class VersionConflictError(TemplateError):
    """The version number cannot be used."""

class ReleaseStateError(TemplateError):
    """The release life cycle does not allow the requested state."""

class TemplateMismatchError(TemplateError):
    """Versions of two different templates were combined."""

class WriteError(TemplateError):
    """Writing a document failed."""

class InvalidArgumentError(TemplateError):
    """An option or argument is not usable."""

class PackageIntegrityError(TemplateError):
    """An offline package is damaged, truncated, tampered with or hostile."""

class SignatureError(TemplateError):
    """A package is unsigned, signed by an untrusted key, or its signature does not verify."""

class MissingBaseError(TemplateError):
    """A differential package needs a base this market lacks."""

class NotFoundError(TemplateError):
    """A template, version, image or blob the market does not hold."""

class InsufficientSpaceError(TemplateError):
    """Not enough free disk space."""

class MarketError(TemplateError):
    """The market's files, keys or image sources failed."""

class RegistryError(TemplateError):
    """A registry refused or failed a relocation request."""

class OperationCancelledError(TemplateError):
    """The operation was stopped; running it again resumes."""

class LockedError(TemplateError):
    """Another operation holds the installation's lock."""

class ReleaseGateError(TemplateError):
    """A production environment refused an unreleased version."""

class RolloutError(TemplateError):
    """A workload did not become ready, or a step failed."""

class PreconditionError(TemplateError):
    """The operation does not fit what is installed."""

class KubernetesError(TemplateError):
    """The cluster could not be reached, or its API failed."""
