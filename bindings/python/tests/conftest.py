"""Paths to the repository's shared test data."""

import json
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

import apptemplate

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"


@pytest.fixture(scope="session")
def pig_yaml() -> Dict[str, str]:
    """The Pig fixtures' YAML text by version."""
    return {v: (DATA / "pig" / f"{v}.yaml").read_text(encoding="utf-8") for v in ("1.0.0", "2.0.0")}


@pytest.fixture(scope="session")
def vectors() -> Dict[str, Any]:
    """The shared test vectors (also checked by the Rust and Node suites)."""
    with open(DATA / "vectors" / "foundation.json", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def load_fixture() -> Callable[[str], apptemplate.Template]:
    """Loads a fixture by its path under tests/data, e.g. ``pig/1.0.0.yaml``."""
    return lambda name: apptemplate.Template.from_yaml((DATA / name).read_text(encoding="utf-8"))
