"""The market on an OCI registry from Python, against a real docker-registry
on 127.0.0.1: publish Pig from a local market, list, release, fetch into
another local market."""

from pathlib import Path
from typing import Any, Iterator, List

import pytest

import apptemplate
from apptemplate import Market, RegistryMarket
from servers import Registry, registry_fixture


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    yield from registry_fixture()


def test_publish_list_release_and_fetch(pig_market: Market, registry: Registry, tmp_path: Path) -> None:
    location = f"oci://{registry.address}/vendor"
    remote = RegistryMarket(location, registries=[{"registry": registry.address, "insecure": True}])
    assert remote.location == location

    events: List[Any] = []
    report = remote.publish_from(pig_market, "pig", "1.0.0", progress=events.append, parallelism=2)
    local = pig_market.versions("pig")[0]
    assert report["outcome"]["outcome"] == "created"
    assert report["outcome"]["digest"] == local["content_digest"]
    assert report["reference"].startswith(f"{registry.address}/vendor/")
    assert registry.has_manifest(report["reference"].split("/", 1)[1].rsplit(":", 1)[0], report["artifact"])
    assert events, "publish_from reported no progress"
    again = remote.publish_from(pig_market, "pig", "1.0.0")
    assert again["outcome"]["outcome"] == "unchanged"

    [listed] = remote.versions("pig")
    assert (listed["version"], listed["content_digest"]) == ("1.0.0", local["content_digest"])
    assert [t["id"] for t in remote.templates()] == ["pig"]
    assert remote.version("pig", "1.0.0").version == "1.0.0"
    assert remote.transitions("pig", "1.0.0") == []

    state = listed["state"]
    keys = apptemplate.generate_key_pair()
    if state == "draft":
        step = remote.set_release_state("pig", "1.0.0", "testing", signing_key=keys["secret_key"])
        assert step is not None and step["to"] == "testing"
    transition = remote.set_release_state("pig", "1.0.0", "released", signing_key=keys["secret_key"])
    assert transition is not None
    assert transition["to"] == "released" and transition["signer"] == keys["key_id"]
    assert transition["withdrawn"] is False
    assert remote.set_release_state("pig", "1.0.0", "released") is None
    assert remote.transitions("pig", "1.0.0")[-1]["digest"] == transition["digest"]
    assert remote.versions("pig")[0]["state"] == "released"

    second = Market(tmp_path / "second")
    fetched = remote.fetch_into(second, "pig", "1.0.0", image_parallelism=2)
    assert fetched["outcome"]["digest"] == listed["content_digest"]
    [copy] = second.versions("pig")
    assert copy["content_digest"] == remote.versions("pig")[0]["content_digest"]
    assert copy["state"] == "released"
    assert second.verify()["problems"] == []


def test_a_bad_location_raises_a_registry_error() -> None:
    with pytest.raises(apptemplate.RegistryError, match="oci://"):
        RegistryMarket("https://registry.example.com/vendor")
    with pytest.raises(apptemplate.RegistryError, match="namespace"):
        RegistryMarket("oci://registry.example.com")
