"""Shared test data: the repository's fixtures and vectors, and markets
holding the Pig fixtures with synthetic images."""

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

import apptemplate
from images import PIG_LOGO, image_names, repin, write_oci_layout

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
def plan_vectors() -> Dict[str, Any]:
    """The shared vectors of diffs and plans (tests/data/vectors/plans.json)."""
    with open(DATA / "vectors" / "plans.json", encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def load_fixture() -> Callable[[str], apptemplate.Template]:
    """Loads a fixture by its path under tests/data, e.g. ``pig/1.0.0.yaml``."""
    return lambda name: apptemplate.Template.from_yaml((DATA / name).read_text(encoding="utf-8"))


def add_pig_version(market: apptemplate.Market, fixture: apptemplate.Template, workdir: Path) -> apptemplate.Template:
    """Adds synthetic images for `fixture` to `market`, publishes the fixture
    re-pinned to them, and returns the published template."""
    layout = workdir / f"layout-{fixture.version}"
    write_oci_layout(layout, image_names(fixture.to_dict()))
    added = market.add_oci_layout(layout)
    logo = market.add_blob(PIG_LOGO)
    doc = repin(fixture.to_dict(), {i["name"]: i["digest"] for i in added}, logo)
    pinned = apptemplate.Template.from_dict(doc)
    market.publish(pinned)
    return pinned


@pytest.fixture(scope="module")
def pig_market(tmp_path_factory: pytest.TempPathFactory, load_fixture: Callable[[str], apptemplate.Template]) -> apptemplate.Market:
    """A market with Pig 1.0.0 and 2.0.0 published on synthetic images."""
    work = tmp_path_factory.mktemp("pig-market")
    market = apptemplate.Market(work / "market")
    for version in ("1.0.0", "2.0.0"):
        add_pig_version(market, load_fixture(f"pig/{version}.yaml"), work)
    return market


def kubeconfig_or_skip() -> str:
    """The test cluster's kubeconfig (APPTEMPLATE_TEST_KUBECONFIG). Without
    it the test fails in CI (CI=true) and is skipped elsewhere."""
    path = os.environ.get("APPTEMPLATE_TEST_KUBECONFIG")
    if path:
        return path
    reason = ("APPTEMPLATE_TEST_KUBECONFIG is not set: start a control plane with "
              "`.ci/control-plane/start DIR` and set it to DIR/kubeconfig")
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)
