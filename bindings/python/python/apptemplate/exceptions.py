"""The exceptions apptemplate raises, one class per kind of error.

Every class derives from :class:`TemplateError` and carries a ``code`` class
attribute, the same string the Node package sets as ``error.code``. A raised
instance has ``details``: the error's fields as a dict, whose ``kind`` names
the Rust error variant (``"shape"``, ``"version_exists"``, ...).
:class:`ValidationError` instances also have ``problems``: every problem as
a dict ``{"path", "kind", "message"}``.

The classes are defined by the Rust extension; this module is where they are
imported from.
"""

from apptemplate._apptemplate import (
    DocumentError,
    InvalidVersionError,
    ReleaseStateError,
    TemplateError,
    TemplateMismatchError,
    ValidationError,
    VersionConflictError,
    WriteError,
)

__all__ = [
    "DocumentError",
    "InvalidVersionError",
    "ReleaseStateError",
    "TemplateError",
    "TemplateMismatchError",
    "ValidationError",
    "VersionConflictError",
    "WriteError",
]
