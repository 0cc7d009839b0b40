"""Type stubs of the Rust extension module (checked by mypy's stubtest)."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, final

from apptemplate.types import IncrementalChange, IncrementalSummary, Problem, PublishOutcome, ReleaseState

__all__ = [
    "DocumentError",
    "InvalidVersionError",
    "ReleaseStateError",
    "Template",
    "TemplateError",
    "TemplateMismatchError",
    "ValidationError",
    "VersionConflictError",
    "WriteError",
    "build_incremental",
    "check_publish",
    "upgrade_candidates",
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
    def from_dict(document: Dict[str, Any]) -> Template:
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
