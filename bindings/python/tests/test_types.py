"""The TypedDicts of :mod:`apptemplate.types` (generated from the Rust
types) accept the Rust JSON of the shared vectors: every vector value is
written as ``v: Type = <literal>`` into a module that mypy checks, unknown
and missing keys included."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from conftest import DATA


def typed_vectors() -> List[Tuple[str, Any]]:
    """(type, value) pairs: every Rust JSON value of the vectors with its type."""

    def read(name: str) -> Any:
        with open(DATA / "vectors" / name, encoding="utf-8") as f:
            return json.load(f)

    plans, capture, foundation = read("plans.json"), read("capture.json"), read("foundation.json")
    checks: List[Tuple[str, Any]] = [
        ("VersionDiff", plans["diff"]["json"]),
        ("InstallOptions", plans["install"]["options"]),
        ("Plan", plans["install"]["plan"]),
        ("InstalledState", plans["install"]["state"]),
        ("StateCustomizations", plans["customizations"]),
        ("InstalledState", plans["installed"]),
        ("UpgradeOptions", plans["upgrade"]["options"]),
        ("Plan", plans["upgrade"]["plan"]),
        ("InstalledState", plans["upgrade"]["state"]),
        ("Outcome", plans["rollback"]["outcome"]),
        (
            "UpgradeRecord",
            {"before": plans["installed"], "plan": plans["upgrade"]["plan"], "outcome": plans["rollback"]["outcome"]},
        ),
        ("InstalledState", plans["rollback"]["current"]),
        ("RollbackOptions", plans["rollback"]["options"]),
        ("Plan", plans["rollback"]["plan"]),
        ("InstalledState", plans["rollback"]["state"]),
    ]
    for case in capture["cases"]:
        checks += [("CaptureOptions", case["options"]), ("CaptureReport", case["report"])]
    for fixture in foundation["fixtures"]:
        checks.append(("List[Problem]", fixture["problems"]))
    for case in foundation["check_publish"]:
        if isinstance(case.get("outcome"), dict) and "outcome" in case["outcome"]:
            checks.append(("PublishOutcome", case["outcome"]))
    # Cases with an error hold refused input on purpose.
    for case in foundation["build_incremental"]:
        if case.get("summary"):
            checks += [("IncrementalChange", case["change"]), ("IncrementalSummary", case["summary"])]
    return checks


def test_typed_dicts_type_the_rust_json_of_the_shared_vectors(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    checks = typed_vectors()
    assert len(checks) > 20
    lines = ["from typing import List", "", "from apptemplate.types import *  # noqa: F403", ""]
    for index, (type_name, value) in enumerate(checks):
        lines.append(f"v{index}: {type_name} = {value!r}")
    (tmp_path / "vectors_typed.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Run where `apptemplate` is the installed package, not the source tree.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), "vectors_typed.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, "mypy refused a TypedDict or a vector value:\n" + result.stdout + result.stderr
