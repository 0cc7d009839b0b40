"""The shared test vectors hold for the Python bindings, exactly as for Rust
and Node."""

import copy
import json
from typing import Any, Dict

import pytest

import apptemplate
from apptemplate import Template, TemplateError
from apptemplate.exceptions import InvalidArgumentError
from conftest import DATA

def overlay(base: Dict[str, Any], fields: Dict[str, Any]) -> Dict[str, Any]:
    doc = copy.deepcopy(base)
    doc.update(copy.deepcopy(fields))
    return doc


def assert_error(err: TemplateError, expected: Dict[str, Any]) -> None:
    assert err.code == expected["code"]
    assert err.details["kind"] == expected["kind"]
    assert str(err) == expected["message"]
    if "problems" in expected:
        assert isinstance(err, apptemplate.ValidationError)
        assert err.problems == expected["problems"]


def test_every_section_has_cases(vectors):
    for section in ("fixtures", "load_text", "load_data", "validation", "release_state",
                    "upgrade_candidates", "check_publish", "build_incremental"):
        assert vectors[section], section


def test_fixtures(vectors, load_fixture):
    for case in vectors["fixtures"]:
        t = load_fixture(case["file"])
        assert (t.id, t.version, t.release_state) == (case["id"], case["version"], case["release_state"])
        assert t.validate() == case["problems"]
        assert t.content_digest() == case["content_digest"]
        assert Template.from_json(t.to_json()).content_digest() == case["content_digest"]
        assert Template.from_dict(t.to_dict()).content_digest() == case["content_digest"]


def test_writing(vectors):
    w = vectors["writing"]
    t = Template.from_dict(w["document"])
    assert t.to_json() == w["json"]
    assert t.to_yaml() == w["yaml"]
    assert t.content_digest() == w["content_digest"]
    assert Template.from_yaml(w["yaml"]) == t
    for doc in w["same_content"]:
        assert Template.from_dict(doc).content_digest() == w["content_digest"]


def test_text_that_does_not_load(vectors):
    for case in vectors["load_text"]:
        load = Template.from_json if case["format"] == "json" else Template.from_yaml
        kwargs = {"max_bytes": case["max_bytes"]} if "max_bytes" in case else {}
        with pytest.raises(apptemplate.DocumentError) as info:
            load(case["text"], **kwargs)
        assert_error(info.value, case["error"])


def test_data_that_does_not_load(vectors):
    for case in vectors["load_data"]:
        with pytest.raises(apptemplate.DocumentError) as info:
            Template.from_dict(case["document"])
        assert_error(info.value, case["error"])


def test_validation(vectors):
    for case in vectors["validation"]:
        t = Template.from_dict(case["document"])
        assert t.validate() == case["problems"], case["name"]
        with pytest.raises(apptemplate.ValidationError) as info:
            t.ensure_valid()
        assert_error(info.value, case["error"])


def test_release_state(vectors):
    for case in vectors["release_state"]:
        t = Template.from_dict(overlay(vectors["base_document"], {"release_state": case["from"]}))
        if case.get("ok"):
            t.set_release_state(case["to"])
            assert t.release_state == case["to"]
        else:
            with pytest.raises(TemplateError) as info:
                t.set_release_state(case["to"])
            assert_error(info.value, case["error"])


def test_upgrade_candidates(vectors):
    base = vectors["base_document"]
    for case in vectors["upgrade_candidates"]:
        installed = Template.from_dict(overlay(base, case["installed"]))
        available = [Template.from_dict(overlay(base, o)) for o in case["available"]]
        if "error" in case:
            with pytest.raises(TemplateError) as info:
                apptemplate.upgrade_candidates(installed, available, released_only=case["released_only"])
            assert_error(info.value, case["error"])
        else:
            found = apptemplate.upgrade_candidates(installed, available, released_only=case["released_only"])
            assert [t.version for t in found] == case["expected"], case["name"]


def test_check_publish(vectors):
    base = vectors["base_document"]
    for case in vectors["check_publish"]:
        existing = None if case["existing"] is None else Template.from_dict(overlay(base, case["existing"]))
        candidate = Template.from_dict(overlay(base, case["candidate"]))
        if "error" in case:
            with pytest.raises(TemplateError) as info:
                apptemplate.check_publish(existing, candidate, overwrite=case["overwrite"])
            assert_error(info.value, case["error"])
        else:
            outcome = apptemplate.check_publish(existing, candidate, overwrite=case["overwrite"])
            assert outcome == case["outcome"], case["name"]


def test_build_incremental(vectors, load_fixture):
    for case in vectors["build_incremental"]:
        base = load_fixture(case["base"])
        if "error" in case:
            with pytest.raises(TemplateError) as info:
                apptemplate.build_incremental(base, case["change"])
            assert_error(info.value, case["error"])
        else:
            t, summary = apptemplate.build_incremental(base, case["change"])
            assert summary == case["summary"], case["name"]
            assert (t.version, t.release_state) == (case["version"], case["release_state"])
            assert t.content_digest() == case["content_digest"]


def test_capture_vectors_hold() -> None:
    """tests/data/vectors/capture.json: the same objects and options give the
    same report as the Rust conversion (and Node's)."""
    with open(DATA / "vectors" / "capture.json", encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    assert len(cases) >= 3
    for case in cases:
        report = apptemplate.capture_objects(case["namespace"], case["objects"], options=case["options"])
        assert report == case["report"], case["name"]
    with pytest.raises(InvalidArgumentError, match=r"objects\[1\]"):
        apptemplate.capture_objects("x", [{"kind": "ConfigMap", "metadata": {"name": "a"}},
                                          {"kind": "Deployment", "metadata": {"name": "b"}, "spec": 5}])
