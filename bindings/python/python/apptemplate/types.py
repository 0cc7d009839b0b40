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


__all__ = ["IncrementalChange", "IncrementalSummary", "Problem", "PublishOutcome", "ReleaseState"]
