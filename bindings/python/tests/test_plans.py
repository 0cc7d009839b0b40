"""Diffs, plans, apply and rollback from Python: the shared vectors
(tests/data/vectors/plans.json, also checked by Rust and Node) and the
errors of bad options."""

from typing import Any, Callable, Dict

import pytest

import apptemplate
from apptemplate import Template
from apptemplate.exceptions import DocumentError, InvalidArgumentError, PreconditionError, TemplateMismatchError
from apptemplate.types import UpgradeRecord

Loader = Callable[[str], Template]


def record_of(v: Dict[str, Any]) -> UpgradeRecord:
    return apptemplate.upgrade_record(v["installed"], v["upgrade"]["plan"], v["rollback"]["outcome"])


def test_diff_matches_the_vectors(plan_vectors: Dict[str, Any], load_fixture: Loader) -> None:
    old, new = load_fixture(plan_vectors["from"]), load_fixture(plan_vectors["to"])
    assert apptemplate.diff(old, new) == plan_vectors["diff"]["json"]
    assert apptemplate.diff_text(old, new) == plan_vectors["diff"]["text"]
    assert not apptemplate.diff(new, new).get("components")


def test_install_plan_and_state_match_the_vectors(plan_vectors: Dict[str, Any], load_fixture: Loader) -> None:
    install = plan_vectors["install"]
    plan = apptemplate.plan_install(load_fixture(plan_vectors["from"]), install["options"])
    assert plan == install["plan"]
    assert apptemplate.plan_text(plan) == install["text"]
    assert apptemplate.install_state(plan) == install["state"]
    masked = apptemplate.plan_json(plan)
    assert "Sup3r-s3cret-admin" not in masked and "Sup3r-s3cret-admin" in str(plan)
    assert masked == install["json"]


def test_upgrade_keeps_the_customization(plan_vectors: Dict[str, Any], load_fixture: Loader) -> None:
    old, new = load_fixture(plan_vectors["from"]), load_fixture(plan_vectors["to"])
    installed = apptemplate.customize(plan_vectors["install"]["state"], env={"upms": {"JAVA_OPTS": "-Xms1g -Xmx3g"}})
    assert installed == plan_vectors["installed"]
    assert apptemplate.customize(plan_vectors["install"]["state"], **plan_vectors["customizations"]) == installed
    assert apptemplate.customize(installed) == installed
    upgrade = plan_vectors["upgrade"]
    plan = apptemplate.plan_upgrade(installed, old, new, upgrade["options"])
    assert plan == upgrade["plan"]
    assert apptemplate.plan_text(plan) == upgrade["text"]
    kept = [k["path"] for step in plan["steps"] for k in step.get("kept", [])]
    assert "components[upms].env[JAVA_OPTS]" in kept
    after = apptemplate.apply(installed, plan)
    assert after == upgrade["state"]
    assert after["components"]["upms"]["customizations"]["env"]["JAVA_OPTS"] == "-Xms1g -Xmx3g"


def test_rollback_after_a_failed_step(plan_vectors: Dict[str, Any]) -> None:
    rollback = plan_vectors["rollback"]
    record = record_of(plan_vectors)
    failed = rollback["outcome"]["step"]
    assert apptemplate.record_applied_steps(record) == list(range(1, failed))
    current = apptemplate.record_state_after(record)
    assert current == rollback["current"]
    assert current == apptemplate.apply_steps(plan_vectors["installed"], plan_vectors["upgrade"]["plan"], list(range(1, failed)))
    plan = apptemplate.plan_rollback(record, current, rollback["options"])
    assert plan == rollback["plan"]
    assert apptemplate.plan_text(plan) == rollback["text"]
    assert apptemplate.apply(current, plan) == rollback["state"]


def test_option_typos_name_the_field(load_fixture: Loader, plan_vectors: Dict[str, Any]) -> None:
    v1, v2 = load_fixture("pig/1.0.0.yaml"), load_fixture("pig/2.0.0.yaml")
    with pytest.raises(InvalidArgumentError) as info:
        apptemplate.plan_upgrade(plan_vectors["installed"], v1, v2, {"prnue": True})
    assert info.value.details["option"] == "options.prnue"
    with pytest.raises(InvalidArgumentError) as info:
        apptemplate.plan_install(v1, {"overrides": {"replica": {"ui": 3}}})
    assert info.value.details["option"] == "options.overrides.replica"
    with pytest.raises(DocumentError) as doc_info:
        apptemplate.plan_install(v1, {"overrides": {"replicas": {"ui": "three"}}})
    assert doc_info.value.details["path"] == "options.overrides.replicas.ui"
    # Empty defaults are accepted; unknown components are refused by the core.
    assert apptemplate.plan_install(v1, {"modules": {}})["kind"] == "install"
    with pytest.raises(InvalidArgumentError) as info:
        apptemplate.plan_install(v1, {"overrides": {"replicas": {"ghost": 1}}})
    assert info.value.code == "INVALID_ARGUMENT"


def test_plans_refuse_what_does_not_fit(load_fixture: Loader, plan_vectors: Dict[str, Any]) -> None:
    v1, v2 = load_fixture("pig/1.0.0.yaml"), load_fixture("pig/2.0.0.yaml")
    with pytest.raises(PreconditionError):
        apptemplate.plan_upgrade(plan_vectors["installed"], v2, v2)
    other = Template.from_dict({**v2.to_dict(), "template": {**v2.to_dict()["template"], "id": "another"}})
    with pytest.raises(TemplateMismatchError):
        apptemplate.diff(v1, other)
    with pytest.raises(DocumentError) as info:
        apptemplate.apply({"template": "pig"}, plan_vectors["upgrade"]["plan"])
    assert "version" in str(info.value)
    assert apptemplate.empty_state("pig") == {"template": "pig", "version": "", "components": {}}


def test_customize_refuses_edits_naming_the_component(plan_vectors: Dict[str, Any]) -> None:
    state = plan_vectors["install"]["state"]
    with pytest.raises(InvalidArgumentError) as info:
        apptemplate.customize(state, replicas={"ghost": 2})
    assert info.value.details["option"] == "components[ghost].replicas"
    assert "ghost" in str(info.value)
    with pytest.raises(InvalidArgumentError) as info:
        apptemplate.customize(state, volume_capacities={"upms": {"nope": "1Gi"}})
    assert info.value.details["option"] == "components[upms].volumes[nope].capacity"


def test_upgrade_record_keeps_its_times(plan_vectors: Dict[str, Any]) -> None:
    record = record_of(plan_vectors)
    assert record == {
        "before": plan_vectors["installed"],
        "plan": plan_vectors["upgrade"]["plan"],
        "outcome": plan_vectors["rollback"]["outcome"],
    }
    timed = apptemplate.upgrade_record(
        plan_vectors["installed"],
        plan_vectors["upgrade"]["plan"],
        {"status": "succeeded"},
        started_at="2026-01-02T03:04:05Z",
        finished_at="2026-01-02T03:09:00Z",
    )
    assert (timed["started_at"], timed["finished_at"]) == ("2026-01-02T03:04:05Z", "2026-01-02T03:09:00Z")
    assert apptemplate.record_state_after(timed) == plan_vectors["upgrade"]["state"]
