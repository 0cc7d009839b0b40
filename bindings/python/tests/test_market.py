"""The market from Python on the Pig fixtures: images, publish, release
states, full and differential packages with progress, import into a second
market, signatures, tampering, missing bases, parts, delete and gc."""

import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import apptemplate
from apptemplate import Market, Template
from apptemplate.types import KeyPair, PackageProgress
from apptemplate.exceptions import (
    InvalidArgumentError,
    LockedError,
    MissingBaseError,
    NotFoundError,
    PackageIntegrityError,
    ReleaseStateError,
    SignatureError,
    TemplateError,
    ValidationError,
    VersionConflictError,
)
from conftest import add_pig_version

Loader = Callable[[str], Template]


@pytest.fixture(scope="module")
def keys() -> KeyPair:
    return apptemplate.generate_key_pair()


def test_a_broken_document_lists_every_problem_with_its_path(load_fixture: Loader) -> None:
    doc = load_fixture("pig/1.0.0.yaml").to_dict()
    doc["components"][0]["image"] = "mysql:latest"
    doc["components"][1]["ports"][0]["port"] = 0
    broken = Template.from_dict(doc)
    with pytest.raises(ValidationError) as info:
        broken.ensure_valid()
    paths = [p["path"] for p in info.value.problems]
    assert paths == [p["path"] for p in broken.validate()]
    assert any(p.startswith(f"components[{doc['components'][0]['key']}].image") for p in paths), paths
    assert len(paths) >= 2 and info.value.code == "VALIDATION_FAILED"
    with pytest.raises(ValidationError):
        apptemplate.plan_install(broken)


def test_published_versions_are_listed_with_their_images(pig_market: Market) -> None:
    versions = pig_market.versions("pig")
    assert [(v["version"], v["state"]) for v in versions] == [("1.0.0", "draft"), ("2.0.0", "draft")]
    assert pig_market.root.name == "market" and Market.open(pig_market.root).versions("pig") == versions
    [summary] = pig_market.templates()
    assert summary["id"] == "pig" and len(summary["versions"]) == 2
    v2 = pig_market.version("pig", "2.0.0")
    assert v2.content_digest() == versions[1]["content_digest"]
    assert pig_market.document("pig", "2.0.0") == v2
    refs = {i["reference"] for i in pig_market.images()}
    assert {c["image"] for c in v2.to_dict()["components"]} <= refs
    assert pig_market.verify()["problems"] == []
    inventory = pig_market.inventory()
    assert {(v["template"], v["version"]) for v in inventory["versions"]} == {("pig", "1.0.0"), ("pig", "2.0.0")}


def test_publish_rules_hold(pig_market: Market, load_fixture: Loader) -> None:
    v1 = pig_market.version("pig", "1.0.0")
    assert pig_market.publish(v1)["outcome"] == "unchanged"
    changed = v1.to_dict()
    changed["release_notes"] = "something else"
    with pytest.raises(VersionConflictError):
        pig_market.publish(Template.from_dict(changed))
    with pytest.raises(NotFoundError):
        pig_market.version("pig", "9.9.9")
    with pytest.raises(NotFoundError):
        pig_market.document("pig", "9.9.9")
    # The fixture's own digests name images this market does not hold.
    with pytest.raises(NotFoundError) as info:
        pig_market.publish(load_fixture("pig/1.0.0.yaml"), overwrite=True)
    assert info.value.details["kind"] == "missing_content"


def test_release_states_move_through_the_life_cycle(tmp_path: Path, load_fixture: Loader) -> None:
    market = Market(tmp_path / "m")
    add_pig_version(market, load_fixture("pig/1.0.0.yaml"), tmp_path)
    with pytest.raises(ReleaseStateError) as info:
        market.set_release_state("pig", "1.0.0", "released")
    assert info.value.details["allowed"] == ["testing"]
    market.set_release_state("pig", "1.0.0", "testing")
    market.set_release_state("pig", "1.0.0", "released")
    assert market.versions("pig")[0]["state"] == "released"
    with pytest.raises(ReleaseStateError):
        market.delete_version("pig", "1.0.0")
    with pytest.raises(InvalidArgumentError):
        market.set_release_state("pig", "1.0.0", "gone")  # type: ignore[arg-type]
    market.delete_version("pig", "1.0.0", force=True)
    assert market.versions("pig") == [] or market.templates() == []
    freed = market.gc()
    assert freed["blobs_removed"] > 0 and freed["bytes_freed"] > 0
    assert market.verify()["problems"] == []


def test_full_and_differential_packages_carry_the_story(pig_market: Market, tmp_path: Path, keys: KeyPair) -> None:
    events: List[PackageProgress] = []
    full = pig_market.export(tmp_path / "pig-1.0.0.tar.zst", "pig", ["1.0.0"], signing_key=keys["secret_key"],
                             progress=events.append, allow_draft=True)
    assert full["carried_blobs"] > 0 and full["omitted_blobs"] == 0
    assert full["files"] == [str(tmp_path / "pig-1.0.0.tar.zst")]
    assert events and events[-1]["phase"] == "done"
    assert {e["phase"] for e in events} <= {"export", "done"}
    assert events[-1]["bytes_done"] == events[-1]["bytes_total"] == full["carried_bytes"]

    diff = pig_market.export(tmp_path / "pig-2.0.0-diff.tar.zst", "pig", ["2.0.0"], base={"versions": ["1.0.0"]},
                             signing_key=keys["secret_key"], allow_draft=True)
    assert diff["omitted_blobs"] > 0 and diff["carried_bytes"] < full["carried_bytes"]

    second = Market(tmp_path / "second")
    imported: List[PackageProgress] = []
    report = second.import_package(tmp_path / "pig-1.0.0.tar.zst", trusted_keys=[keys["public_key_file"]],
                                   progress=imported.append)
    assert report["versions"] == [{"version": "1.0.0", "outcome": "added"}]
    assert report["signer"] == keys["key_id"]
    assert imported[-1]["phase"] == "done" and "import" in {e["phase"] for e in imported}
    again = second.import_package(str(tmp_path / "pig-1.0.0.tar.zst"), trusted_keys=[keys["public_key"]])
    assert again["versions"] == [{"version": "1.0.0", "outcome": "unchanged"}] and again["blobs_written"] == 0

    report = second.import_package(tmp_path / "pig-2.0.0-diff.tar.zst", trusted_keys=[keys["public_key_file"]])
    assert report["versions"] == [{"version": "2.0.0", "outcome": "added"}]
    assert [v["content_digest"] for v in second.versions("pig")] == [v["content_digest"] for v in pig_market.versions("pig")]
    assert second.verify()["problems"] == []

    # Against the destination's inventory, nothing is left to carry.
    nothing = pig_market.export(tmp_path / "again.tar.zst", "pig", ["1.0.0", "2.0.0"],
                                base={"inventory": second.inventory()}, allow_draft=True)
    assert nothing["carried_blobs"] == 0 and nothing["omitted_blobs"] > 0


def test_a_differential_package_needs_its_base(pig_market: Market, tmp_path: Path) -> None:
    pig_market.export(tmp_path / "diff.tar.zst", "pig", ["2.0.0"], base={"versions": ["1.0.0"]}, allow_draft=True)
    empty = Market(tmp_path / "empty")
    with pytest.raises(MissingBaseError) as info:
        empty.import_package(tmp_path / "diff.tar.zst", allow_unsigned=True)
    assert info.value.code == "MISSING_BASE" and info.value.details["missing_blobs"] > 0
    assert empty.templates() == []


def test_signatures_are_checked(pig_market: Market, tmp_path: Path, keys: KeyPair) -> None:
    pig_market.export(tmp_path / "unsigned.tar.zst", "pig", ["1.0.0"], allow_draft=True)
    pig_market.export(tmp_path / "signed.tar.zst", "pig", ["1.0.0"], signing_key=keys["secret_key"], allow_draft=True)
    market = Market(tmp_path / "m")
    with pytest.raises(SignatureError) as info:
        market.import_package(tmp_path / "unsigned.tar.zst")
    assert info.value.details["kind"] == "unsigned"
    other = apptemplate.generate_key_pair()
    with pytest.raises(SignatureError) as info:
        market.import_package(tmp_path / "signed.tar.zst", trusted_keys=[other["public_key"]])
    assert info.value.details["kind"] == "untrusted_key"
    with pytest.raises(InvalidArgumentError) as bad:
        market.import_package(tmp_path / "signed.tar.zst", trusted_keys=["not a key"])
    assert bad.value.details["option"] == "trusted_keys[0]"
    assert market.import_package(tmp_path / "unsigned.tar.zst", allow_unsigned=True)["versions"][0]["outcome"] == "added"


def test_a_tampered_package_is_refused_and_changes_nothing(pig_market: Market, tmp_path: Path, keys: KeyPair) -> None:
    package = tmp_path / "plain.tar"
    pig_market.export(package, "pig", ["1.0.0"], compression="none", signing_key=keys["secret_key"], allow_draft=True)
    data = bytearray(package.read_bytes())
    # Flip one byte in the middle of the archive: inside a layer blob.
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(data))
    market = Market(tmp_path / "m")
    with pytest.raises((PackageIntegrityError, SignatureError)) as info:
        market.import_package(tampered, trusted_keys=[keys["public_key_file"]])
    assert isinstance(info.value, TemplateError) and info.value.details["kind"]
    assert market.templates() == []
    assert market.import_package(package, trusted_keys=[keys["public_key_file"]])["versions"][0]["outcome"] == "added"


def test_packages_split_into_parts(pig_market: Market, tmp_path: Path) -> None:
    report = pig_market.export(tmp_path / "pig", "pig", ["1.0.0"], part_size=64 << 10, allow_draft=True)
    parts = report["files"]
    assert len(parts) > 1 and all(Path(p).stat().st_size <= 64 << 10 for p in parts)
    market = Market(tmp_path / "m")
    imported = market.import_package([Path(p) for p in parts], allow_unsigned=True)
    assert imported["versions"] == [{"version": "1.0.0", "outcome": "added"}]
    with pytest.raises(NotFoundError):
        Market(tmp_path / "n").import_package([Path(p) for p in parts[:-1]] + [tmp_path / "missing"], allow_unsigned=True)


def test_bad_arguments_are_named(pig_market: Market, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        pig_market.export(tmp_path / "x", "pig", ["1.0.0"],
                          # Both kinds of base at once, refused: not a valid ExportBase.
                          base={"versions": ["1.0.0"], "inventory": pig_market.inventory()},  # type: ignore[arg-type]
                          allow_draft=True)
    assert info.value.details["option"] == "base"
    with pytest.raises(InvalidArgumentError) as info:
        pig_market.export(tmp_path / "x", "pig", ["1.0.0"], compression="gzip", allow_draft=True)  # type: ignore[arg-type]
    assert info.value.details["option"] == "compression"
    with pytest.raises(InvalidArgumentError) as info:
        pig_market.export(tmp_path / "x", "pig", ["1.0.0"], part_size=0, allow_draft=True)
    assert info.value.details["option"] == "part_size"
    with pytest.raises(InvalidArgumentError) as info:
        pig_market.export(tmp_path / "x", "pig", ["1.0.0"], signing_kye="k", allow_draft=True)  # type: ignore[call-arg]
    assert info.value.details["option"] == "signing_kye"
    with pytest.raises(InvalidArgumentError):
        pig_market.export(tmp_path / "x", "pig", [], allow_draft=True)
    with pytest.raises(InvalidArgumentError) as info:
        pig_market.export(tmp_path / "x", "pig", ["1.0.0"], signing_key="garbage", allow_draft=True)
    assert info.value.details["option"] == "signing_key"


def test_a_raising_progress_callback_cancels_and_is_re_raised(pig_market: Market, tmp_path: Path) -> None:
    calls: List[PackageProgress] = []

    def stop(event: PackageProgress) -> None:
        calls.append(event)
        if len(calls) == 2:
            raise RuntimeError("stop here")

    # The export stops at once: no package, no partial file.
    package = tmp_path / "p.tar.zst"
    with pytest.raises(RuntimeError, match="stop here"):
        pig_market.export(package, "pig", ["1.0.0"], progress=stop, allow_draft=True)
    assert len(calls) == 2, "the callback is not called again after it raised"
    assert list(tmp_path.iterdir()) == []

    pig_market.export(package, "pig", ["1.0.0"], allow_draft=True)
    customer = Market.open(tmp_path / "customer")
    calls.clear()
    with pytest.raises(RuntimeError, match="stop here"):
        customer.import_package(package, allow_unsigned=True, progress=stop)
    assert len(calls) == 2
    assert customer.versions("pig") == []
    assert customer.verify()["problems"] == []

    report = customer.import_package(package, allow_unsigned=True)
    assert report["versions"] == [{"version": "1.0.0", "outcome": "added"}]


def test_long_operations_release_the_gil(pig_market: Market, tmp_path: Path) -> None:
    # While an export runs in another thread, this thread keeps running
    # Python code; were the GIL held, it would stand still until the end.
    ticks = 0
    started = threading.Event()
    done = threading.Event()

    def export() -> None:
        try:
            pig_market.export(tmp_path / "gil.tar.zst", "pig", ["1.0.0", "2.0.0"], compression_level=19,
                              progress=lambda _: started.set(), allow_draft=True)
        finally:
            done.set()

    worker = threading.Thread(target=export)
    worker.start()
    started.wait()
    while not done.is_set():
        ticks += 1
        done.wait(0.0005)
    worker.join()
    assert (tmp_path / "gil.tar.zst").exists()
    assert ticks >= 3


def test_images_from_a_docker_archive(tmp_path: Path) -> None:
    import io
    import json
    import tarfile

    from images import layer_tar, synthetic_bytes

    layer = layer_tar("app/app.bin", synthetic_bytes("docker", 4096))
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    import hashlib
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["registry.example.com/demo/app:1.0"],
                            "Layers": ["layer/layer.tar"]}]).encode()
    archive = tmp_path / "app.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (("manifest.json", manifest), (config_name, config), ("layer/layer.tar", layer)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    market = Market(tmp_path / "m")
    [image] = market.add_docker_archive(archive)
    assert image["name"] == "registry.example.com/demo/app:1.0"
    assert image["reference"] == f"{image['name']}@{image['digest']}"
    assert market.images() == [image]
    shutil.rmtree(tmp_path / "m")


def test_drafts_export_only_on_purpose(pig_market: Market, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        pig_market.export(tmp_path / "draft.tar.zst", "pig", ["1.0.0"])
    assert raised.value.details["kind"] == "draft_export"
    assert "allow_draft" in str(raised.value)
    assert not (tmp_path / "draft.tar.zst").exists()


def test_a_held_market_lock_times_out_naming_the_wait(pig_market: Market) -> None:
    import fcntl

    with open(pig_market.root / ".lock", "a", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(LockedError) as raised:
            Market(pig_market.root, lock_timeout_seconds=0.2)
        assert raised.value.details["kind"] == "lock_timeout"
        fcntl.flock(held, fcntl.LOCK_UN)
    assert Market.open(pig_market.root, lock_timeout_seconds=0.2).root == pig_market.root
