"""The foundation API from Python, on the Pig fixtures."""

import copy
import json

import pytest

import apptemplate
from apptemplate import Template
from apptemplate.exceptions import (
    DocumentError,
    ReleaseStateError,
    TemplateError,
    ValidationError,
    VersionConflictError,
)


@pytest.fixture
def pig1(pig_yaml):
    return Template.from_yaml(pig_yaml["1.0.0"])


@pytest.fixture
def pig2(pig_yaml):
    return Template.from_yaml(pig_yaml["2.0.0"])


def test_fixtures_load_and_are_valid(pig1, pig2):
    assert (pig1.id, pig1.version, pig1.release_state) == ("pig", "1.0.0", "draft")
    assert pig2.version == "2.0.0"
    assert pig1.validate() == []
    pig1.ensure_valid()
    keys = [c["key"] for c in pig1.to_dict()["components"]]
    assert {"nacos", "gateway", "auth", "upms", "mysql", "redis"} <= set(keys)


def test_one_digest_across_yaml_json_and_dict(pig_yaml, pig1):
    digest = pig1.content_digest()
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    from_json = Template.from_json(pig1.to_json())
    from_bytes = Template.from_yaml(pig_yaml["1.0.0"].encode("utf-8"))
    from_dict = Template.from_dict(pig1.to_dict())
    from_yaml_out = Template.from_yaml(pig1.to_yaml())
    for other in (from_json, from_bytes, from_dict, from_yaml_out):
        assert other == pig1
        assert other.content_digest() == digest
    # The dict is the document's JSON content.
    assert pig1.to_dict() == json.loads(pig1.to_json())
    # Release state and creation time are not content.
    doc = pig1.to_dict()
    doc.update(release_state="testing", created_at="2030-01-01T00:00:00Z")
    assert Template.from_dict(doc).content_digest() == digest


def test_broken_document_reports_problem_paths(pig1):
    doc = pig1.to_dict()
    gateway = next(c for c in doc["components"] if c["key"] == "gateway")
    gateway["image"] = "registry.example.com/pig/pig-gateway:latest"
    gateway["depends_on"].append("billing")
    doc["version"] = "1.0"
    broken = Template.from_dict(doc)
    problems = broken.validate()
    paths = {p["path"]: p["kind"] for p in problems}
    assert paths["version"] == "invalid_version"
    assert paths["components[gateway].image"] == "image_without_digest"
    assert any(p.startswith("components[gateway].depends_on[") for p in paths)
    with pytest.raises(ValidationError) as info:
        broken.ensure_valid()
    err = info.value
    assert err.problems == problems
    assert err.code == ValidationError.code == "VALIDATION_FAILED"
    assert isinstance(err, TemplateError)
    assert "components[gateway].image" in str(err)


def test_syntax_and_shape_errors(pig_yaml):
    with pytest.raises(DocumentError) as info:
        Template.from_yaml(pig_yaml["1.0.0"] + "\n  - : [\n")
    assert info.value.details["kind"] == "syntax"
    assert info.value.details["line"] > 0
    with pytest.raises(DocumentError) as info:
        Template.from_dict({"format": "apptemplate.io/v1", "template": {"id": "x", "name": "X"}, "version": "1.0.0", "components": "none"})
    assert info.value.details == {
        "kind": "shape",
        "path": "components",
        "message": 'invalid type: string "none", expected a sequence',
    }


def test_conversion_errors_are_python_errors(pig1):
    with pytest.raises(TypeError):
        Template.from_dict({"format": object()})
    with pytest.raises(TypeError):
        Template.from_dict({1: "one"})
    with pytest.raises(InvalidArgumentError) as bad:
        pig1.set_release_state("shipped")  # type: ignore[arg-type]
    assert bad.value.details["option"] == "state"


def test_upgrade_candidates(pig1, pig2):
    assert [t.version for t in apptemplate.upgrade_candidates(pig1, [pig2, pig1])] == ["2.0.0"]
    assert apptemplate.upgrade_candidates(pig2, [pig1, pig2]) == []
    assert apptemplate.upgrade_candidates(pig1, [pig2], released_only=True) == []
    released = copy.copy(pig2)
    released.set_release_state("testing")
    released.set_release_state("released")
    assert pig2.release_state == "draft", "copies are independent"
    assert apptemplate.upgrade_candidates(pig1, [released], released_only=True) == [released]


def test_release_life_cycle(pig1):
    t = copy.deepcopy(pig1)
    with pytest.raises(ReleaseStateError) as info:
        t.set_release_state("released")
    assert info.value.details["allowed"] == ["testing"]
    for state in ("testing", "released", "deprecated", "released"):
        t.set_release_state(state)
        assert t.release_state == state
    with pytest.raises(ReleaseStateError):
        t.set_release_state("draft")


def test_publish_and_incremental_publish(pig1, pig2):
    outcome = apptemplate.check_publish(None, pig1)
    assert outcome == {"outcome": "created", "digest": pig1.content_digest()}

    # 1.1.0 takes the new gateway from 2.0.0 and nothing else.
    gateway_2 = next(c for c in pig2.to_dict()["components"] if c["key"] == "gateway")
    gateway_2["depends_on"] = [d for d in gateway_2["depends_on"] if d != "report"]
    pig11, summary = apptemplate.build_incremental(
        pig1,
        {"version": "1.1.0", "release_notes": "New gateway.", "components": [gateway_2]},
    )
    assert summary["replaced"] == ["gateway"]
    assert summary["added"] == []
    assert "mysql" in summary["carried_over"] and "gateway" not in summary["carried_over"]
    assert (pig11.version, pig11.release_state) == ("1.1.0", "draft")
    assert pig11.to_dict()["release_notes"] == "New gateway."
    assert apptemplate.check_publish(None, pig11)["outcome"] == "created"

    # Publishing other content under a taken number is refused...
    released = copy.copy(pig1)
    released.set_release_state("testing")
    released.set_release_state("released")
    changed = Template.from_dict(dict(pig1.to_dict(), release_notes="Changed."))
    with pytest.raises(VersionConflictError) as info:
        apptemplate.check_publish(pig1, changed)
    assert info.value.details["kind"] == "version_exists"
    # ...overwrite replaces a draft, never a released version.
    replaced = apptemplate.check_publish(pig1, changed, overwrite=True)
    assert replaced["outcome"] == "replaced" and replaced["previous"] == pig1.content_digest()
    with pytest.raises(VersionConflictError) as info:
        apptemplate.check_publish(released, changed, overwrite=True)
    assert info.value.details["kind"] == "released_immutable"

    with pytest.raises(VersionConflictError) as info:
        apptemplate.build_incremental(pig2, {"version": "1.1.0"})
    assert info.value.details == {"kind": "version_not_newer", "base": "2.0.0", "new": "1.1.0"}


def test_exceptions_module_is_the_public_home():
    import apptemplate.exceptions as exc

    assert apptemplate.ValidationError is exc.ValidationError
    assert exc.ValidationError.__module__ == "apptemplate.exceptions"
    codes = {cls.code for cls in (exc.DocumentError, exc.ValidationError, exc.InvalidVersionError,
                                   exc.VersionConflictError, exc.ReleaseStateError,
                                   exc.TemplateMismatchError, exc.WriteError, exc.TemplateError)}
    assert len(codes) == 8
    for name in exc.__all__:
        cls = getattr(exc, name)
        assert issubclass(cls, exc.TemplateError)


def test_repr(pig1):
    assert repr(pig1) == "<Template pig 1.0.0 (draft)>"
