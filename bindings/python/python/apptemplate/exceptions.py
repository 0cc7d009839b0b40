"""The exceptions apptemplate raises, one class per kind of error.

Every class derives from :class:`TemplateError` and carries a ``code`` class
attribute, the same string the Node package sets as ``error.code``. A raised
instance has ``details``: the error's fields as a dict, whose ``kind`` names
the Rust error variant (``"shape"``, ``"version_exists"``, ``"missing_base"``,
``"release_gate"``, ...). :class:`ValidationError` instances also have
``problems``: every problem as a dict ``{"path", "kind", "message"}``.

Errors of the core (documents, versions, plans), of the market (packages,
signatures, registries) and of Kubernetes delivery all map to these classes.
The classes are defined by the Rust extension; this module is where they are
imported from.
"""

from apptemplate._apptemplate import (
    DocumentError,
    InsufficientSpaceError,
    InvalidArgumentError,
    InvalidVersionError,
    KubernetesError,
    LockedError,
    MarketError,
    MissingBaseError,
    NotFoundError,
    OperationCancelledError,
    PackageIntegrityError,
    PreconditionError,
    RegistryError,
    ReleaseGateError,
    ReleaseStateError,
    RolloutError,
    SignatureError,
    TemplateError,
    TemplateMismatchError,
    ValidationError,
    VersionConflictError,
    WriteError,
)

__all__ = [
    "DocumentError",
    "InsufficientSpaceError",
    "InvalidArgumentError",
    "InvalidVersionError",
    "KubernetesError",
    "LockedError",
    "MarketError",
    "MissingBaseError",
    "NotFoundError",
    "OperationCancelledError",
    "PackageIntegrityError",
    "PreconditionError",
    "RegistryError",
    "ReleaseGateError",
    "ReleaseStateError",
    "RolloutError",
    "SignatureError",
    "TemplateError",
    "TemplateMismatchError",
    "ValidationError",
    "VersionConflictError",
    "WriteError",
]
