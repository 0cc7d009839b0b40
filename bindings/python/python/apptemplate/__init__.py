"""Versioned application templates: load, validate, version and publish.

Thin bindings of the Rust crate ``template-core``: every function here calls
the Rust implementation, so results are the same as from Rust and Node.
Values come back as plain data (dicts and lists with the content of the Rust
JSON); errors are subclasses of :class:`TemplateError`, importable from
:mod:`apptemplate.exceptions`.
"""

from apptemplate._apptemplate import (
    Template,
    build_incremental,
    check_publish,
    upgrade_candidates,
)
from apptemplate.exceptions import (
    DocumentError,
    InvalidVersionError,
    ReleaseStateError,
    TemplateError,
    TemplateMismatchError,
    ValidationError,
    VersionConflictError,
    WriteError,
)
from apptemplate.types import (
    IncrementalChange,
    IncrementalSummary,
    Problem,
    PublishOutcome,
    ReleaseState,
)

__all__ = [
    "DocumentError",
    "IncrementalChange",
    "IncrementalSummary",
    "InvalidVersionError",
    "Problem",
    "PublishOutcome",
    "ReleaseState",
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
