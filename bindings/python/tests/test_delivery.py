"""Relocation to a real registry and delivery to the real API server of the
test control plane (APPTEMPLATE_TEST_KUBECONFIG): install, upgrade,
rollback and deliver the Pig application from Python, with progress."""

import secrets
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import apptemplate
from apptemplate import Delivery, Market, Template
from apptemplate.exceptions import (
    DocumentError,
    InvalidArgumentError,
    KubernetesError,
    PreconditionError,
    RegistryError,
    ReleaseGateError,
)
from apptemplate.types import Environment, RelocateProgress
from conftest import add_pig_version, kubeconfig_or_skip
from servers import Cluster, Registry, registry_fixture

Loader = Callable[[str], Template]
STORAGE_CLASS = "apptemplate-test"
CLAIMS = {"pig-mysql-data": "ReadWriteOnce", "pig-redis-data": "ReadWriteOnce",
          "pig-upms-upload": "ReadWriteMany", "pig-report-exports": "ReadWriteOnce"}
PASSWORD = "Py-s3cret-admin"


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    yield from registry_fixture()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory, load_fixture: Loader) -> Market:
    work = tmp_path_factory.mktemp("delivery")
    market = Market(work / "market")
    for version in ("1.0.0", "2.0.0"):
        add_pig_version(market, load_fixture(f"pig/{version}.yaml"), work)
    return market


def test_relocation_pushes_every_image_and_a_raising_callback_stops_it(market: Market, registry: Registry) -> None:
    def stop(event: RelocateProgress) -> None:
        raise ValueError(f"stopped at {event['event']}")

    with pytest.raises(ValueError, match="stopped at"):
        market.relocate_version("pig", "1.0.0", {"registry": f"{registry.address}/stop", "insecure": True}, progress=stop)
    events: List[RelocateProgress] = []
    report = market.relocate_version("pig", "1.0.0", {"registry": f"{registry.address}/stop", "insecure": True},
                                     progress=events.append)
    assert events[-1]["event"] == "done"
    assert report["blobs_uploaded"] + report["blobs_skipped"] + report["blobs_mounted"] > 0
    for image in report["images"]:
        repository, digest = image["relocated"].split("/", 1)[1].split("@")
        assert registry.has_manifest(repository, digest), image
    again = market.relocate_version("pig", "1.0.0", {"registry": f"{registry.address}/stop", "insecure": True})
    assert again["blobs_uploaded"] == 0 and again["manifests_pushed"] == 0
    with pytest.raises(RegistryError):
        market.relocate_version("pig", "1.0.0", {"registry": "127.0.0.1:1/none", "insecure": True},
                                request_timeout_seconds=5)
    with pytest.raises(InvalidArgumentError):
        market.relocate_version("pig", "1.0.0", {"registry": registry.address, "username": "only-user"})


def installed_version(delivery: Delivery, env: Environment) -> Optional[str]:
    state = delivery.state(env, "pig")
    return state["version"] if state is not None else None


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    return Cluster(kubeconfig_or_skip())


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> str:
    name = f"py-{secrets.token_hex(3)}"
    cluster.prepare(name, STORAGE_CLASS, CLAIMS)
    return name


def test_pull_brings_images_from_a_registry_into_another_market(market: Market, registry: Registry,
                                                                tmp_path: Path) -> None:
    pushed = market.relocate_version("pig", "1.0.0", {"registry": f"{registry.address}/pullsrc", "insecure": True})
    wanted = [image["relocated"] for image in pushed["images"]]
    other = Market(tmp_path / "other")
    events: List[str] = []
    report = other.pull(wanted, {"registry": registry.address, "insecure": True}, blob_parallelism=2,
                        progress=lambda p: events.append(p["event"]))
    assert [p["image"]["digest"] for p in report["images"]] == [i["digest"] for i in pushed["images"]]
    assert report["blobs_fetched"] > 0 and events[-1] == "done"
    assert other.verify()["problems"] == []
    again = other.pull(wanted, {"registry": registry.address, "insecure": True})
    assert again["blobs_fetched"] == 0 and again["manifests_fetched"] == 0, again
    with pytest.raises(InvalidArgumentError):
        other.pull(wanted, {"registry": registry.address, "insecure": True}, blob_paralelism=2)  # type: ignore[call-arg]


def environment(namespace: str, registry: Registry, *, released_only: bool = False) -> Environment:
    return {"name": "prod-py" if released_only else "test-py", "namespace": namespace,
            "registry": f"{registry.address}/py", "released_only": released_only,
            "storage_class": STORAGE_CLASS}


@pytest.fixture(scope="module")
def delivery(market: Market, registry: Registry, cluster: Cluster) -> Delivery:
    return Delivery(market, kubeconfig=kubeconfig_or_skip(),
                    registries=[{"registry": f"{registry.address}/py", "insecure": True}],
                    executor={"identity": "pytest", "wait_timeout_seconds": 180, "poll_interval_seconds": 0.25})


def test_install_upgrade_rollback_and_deliver(delivery: Delivery, market: Market, cluster: Cluster,
                                              namespace: str, registry: Registry) -> None:
    env = environment(namespace, registry)
    assert delivery.state(env, "pig") is None
    pushed = delivery.relocate(env, "pig", "1.0.0")
    assert pushed is not None and pushed["registry"] == f"{registry.address}/py" and pushed["images"] > 0
    assert delivery.relocate({"name": "local", "namespace": namespace}, "pig", "1.0.0") is None

    events: List[Dict[str, Any]] = []
    installed = delivery.install(env, "pig", "1.0.0", {"overrides": {"env": {"monitor": {"ADMIN_PASSWORD": PASSWORD}}}},
                                 progress=events.append)
    assert installed["revision"] == 1 and installed["plan"]["kind"] == "install"
    phases = [e["phase"] for e in events]
    relocated = [e for e in events if e["phase"] == "relocated"]
    assert relocated and relocated[0]["blobs_uploaded"] == 0, "relocate() pushed everything already"
    assert "step_applied" in phases and phases[-1] == "done"
    assert {e["component"] for e in events if e["phase"] == "step_applied"} == set(installed["state"]["components"])
    state = delivery.state(env, "pig")
    assert state is not None and state["version"] == "1.0.0" and state == installed["state"]
    images = cluster.workload_images(namespace)
    assert images and all(i.startswith(f"{registry.address}/py/") for i in images.values()), images

    with pytest.raises(PreconditionError):
        delivery.install(env, "pig", "1.0.0")

    upgraded = delivery.upgrade(env, "pig", "2.0.0", progress=events.append)
    assert upgraded["revision"] == 2 and upgraded["plan"]["from_version"] == "1.0.0"
    assert installed_version(delivery, env) == "2.0.0"
    upgraded_images = cluster.workload_images(namespace)
    assert upgraded_images["pig-gateway"] != images["pig-gateway"]
    assert upgraded_images["pig-mysql"] == images["pig-mysql"]

    rolled_back = delivery.rollback(env, "pig", 2)
    assert rolled_back["revision"] == 3 and rolled_back["plan"]["kind"] == "rollback"
    assert installed_version(delivery, env) == "1.0.0"
    assert cluster.workload_images(namespace)["pig-gateway"] == images["pig-gateway"]
    history = delivery.history(env, "pig")
    assert [(h["revision"], h["kind"], h["outcome"]) for h in history] == [
        (1, "install", "succeeded"), (2, "upgrade", "succeeded"), (3, "rollback", "succeeded")]

    [outcome] = delivery.deliver([env], "pig", "2.0.0", progress=events.append)
    assert (outcome["action"], outcome["from_version"], outcome["error"]) == ("upgrade", "1.0.0", None)
    unreachable: Environment = {**env, "name": "elsewhere", "context": "no-such-context"}
    unchanged, failed = delivery.deliver([env, unreachable], "pig", "2.0.0")
    assert unchanged["action"] == "unchanged" and unchanged["error"] is None
    assert failed["environment"] == "elsewhere" and failed["error"]
    assert failed["error"]["code"] == "KUBERNETES_ERROR"
    assert "no-such-context" in failed["error"]["message"]

    # A callback that raises stops the rollback at the next safe point,
    # between two waves: the exception is re-raised and the record lists
    # the steps applied; running the rollback again finishes it.
    def fail(event: Dict[str, Any]) -> None:
        if event["phase"] == "step_done":
            raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        delivery.rollback(env, "pig", 4, progress=fail)
    last = delivery.history(env, "pig")[-1]
    assert last["kind"] == "rollback" and last["outcome"].startswith("partly applied"), last
    delivery.rollback(env, "pig", 4)
    assert installed_version(delivery, env) == "1.0.0"


def test_production_refuses_unreleased_versions(delivery: Delivery, namespace: str, registry: Registry) -> None:
    prod = environment(f"{namespace}-prod", registry, released_only=True)
    with pytest.raises(ReleaseGateError) as info:
        delivery.deliver([environment(namespace, registry), prod], "pig", "2.0.0")
    assert info.value.details["environment"] == "prod-py" and info.value.code == "RELEASE_GATE"
    with pytest.raises(ReleaseGateError):
        delivery.install(prod, "pig", "1.0.0")


def test_an_unreachable_cluster_is_a_kubernetes_error(market: Market, tmp_path: Path) -> None:
    delivery = Delivery(market, kubeconfig=tmp_path / "missing-kubeconfig")
    with pytest.raises(KubernetesError) as info:
        delivery.state({"name": "nowhere", "namespace": "py-none"}, "pig")
    assert info.value.details["kind"] == "connect" and "nowhere" in str(info.value)


def test_bad_profiles_and_options_are_named(delivery: Delivery, market: Market, namespace: str,
                                           registry: Registry) -> None:
    with pytest.raises(DocumentError) as info:
        delivery.state({"name": "x", "namespace": namespace, "regsitry": "r"}, "pig")  # type: ignore[typeddict-unknown-key]
    assert "regsitry" in str(info.value)
    with pytest.raises(InvalidArgumentError) as bad:
        delivery.upgrade(environment(namespace, registry), "pig", "2.0.0", {"prnue": True})
    assert bad.value.details["option"] == "options.prnue"
    with pytest.raises(InvalidArgumentError):
        Delivery(market, executor={"exposure": "ingress"})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Delivery(market, registries=[{"registry": "r", "insecur": True}])  # type: ignore[typeddict-unknown-key]


def test_reconfigure_in_place_is_recorded_and_rolled_back(delivery: Delivery, cluster: Cluster,
                                                          registry: Registry) -> None:
    namespace = f"py-re-{secrets.token_hex(3)}"
    cluster.prepare(namespace, STORAGE_CLASS, CLAIMS)
    env = environment(namespace, registry)
    delivery.install(env, "pig", "1.0.0")
    options = {"modules": {"ops": False}, "prune": True,
               "overrides": {"env": {"upms": {"JAVA_OPTS": "-Xms1g -Xmx2g"}}}}
    changed = delivery.reconfigure(env, "pig", options)
    assert not changed["unchanged"] and changed["revision"] == 2
    assert changed["state"]["version"] == "1.0.0" and "monitor" not in changed["state"]["components"]
    assert "pig-monitor" not in cluster.workload_images(namespace)
    # The same reconfiguration again: nothing to do, nothing recorded.
    again = delivery.upgrade(env, "pig", "1.0.0", options)
    assert again["unchanged"] and again["revision"] == 2
    assert len(delivery.history(env, "pig")) == 2
    with pytest.raises(InvalidArgumentError, match=r"overrides\.replicas\[upms\]"):
        delivery.reconfigure(env, "pig", {"overrides": {"replicas": {"upms": 99}}})
    delivery.rollback(env, "pig", 2)
    state = delivery.state(env, "pig")
    assert state is not None
    assert "monitor" in state["components"] and "ops" in state["modules"]
    assert "pig-monitor" in cluster.workload_images(namespace)


def test_publish_from_cluster_makes_a_running_application_a_version(delivery: Delivery, cluster: Cluster,
                                                                    registry: Registry, tmp_path: Path) -> None:
    namespace = f"py-pub-{secrets.token_hex(3)}"
    cluster.prepare(namespace, STORAGE_CLASS, CLAIMS)
    env = environment(namespace, registry)
    delivery.install(env, "pig", "1.0.0")
    vendor = Market(tmp_path / "vendor")
    options = {"capture": {"template_id": "pig-py", "template_name": "Pig from Python"},
               "registries": [{"registry": registry.address, "insecure": True}]}
    stages: List[str] = []
    report = apptemplate.publish_from_cluster(vendor, env, kubeconfig=kubeconfig_or_skip(), options=options,
                                              progress=lambda p: stages.append(p["stage"]))
    assert (report["template"], report["version"], report["base"]) == ("pig-py", "0.1.0", None)
    assert report["outcome"] is not None and report["outcome"]["outcome"] == "created"
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == ["capture", "captured", "pull", "publish"]
    published = vendor.version("pig-py", "0.1.0")
    assert published.validate() == [] and published.to_dict()["template"]["name"] == "Pig from Python"
    assert len(report["capture"]["version"]["components"]) == len(cluster.workload_images(namespace))
    assert vendor.verify()["problems"] == []
    again = apptemplate.publish_from_cluster(vendor, env, kubeconfig=kubeconfig_or_skip(),
                                             options={**options, "capture": {"template_id": "pig-py"}})
    assert again["outcome"] is None and again["base"] == "0.1.0" and again["pull"]["blobs_fetched"] == 0

    def stop(report: Dict[str, Any]) -> None:
        if report["stage"] == "pull":
            raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError, match="stopped by the caller"):
        apptemplate.publish_from_cluster(vendor, env, kubeconfig=kubeconfig_or_skip(),
                                         options={**options, "capture": {"template_id": "pig-py", "version": "9.0.0"}},
                                         progress=stop)
    assert [v["version"] for v in vendor.versions("pig-py")] == ["0.1.0"]
    with pytest.raises(InvalidArgumentError):
        apptemplate.publish_from_cluster(vendor, env, kubeconfig=kubeconfig_or_skip(), options={"registry": []})
