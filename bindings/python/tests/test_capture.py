"""Capture from Python: an application written by hand on the test control
plane (APPTEMPLATE_TEST_KUBECONFIG) becomes a draft version with its report,
the same data the Rust `template_k8s::capture` returns."""

import secrets

import apptemplate
from apptemplate import Template
from conftest import kubeconfig_or_skip
from servers import Cluster

DIGEST = "sha256:" + "7" * 64


def test_capture_returns_a_valid_draft_and_keeps_secret_values_out() -> None:
    kubeconfig = kubeconfig_or_skip()
    cluster = Cluster(kubeconfig)
    namespace = f"py-capture-{secrets.token_hex(3)}"
    cluster.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
    base = f"/api/v1/namespaces/{namespace}"
    cluster.create(f"{base}/secrets", {"metadata": {"name": "queue"}, "stringData": {"token": "py-never-copied"}})
    cluster.create(f"{base}/services", {
        "metadata": {"name": "queue"},
        "spec": {"selector": {"app": "queue"}, "ports": [{"port": 5672}]},
    })
    cluster.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", {
        "metadata": {"name": "queue"},
        "spec": {
            "selector": {"matchLabels": {"app": "queue"}},
            "template": {
                "metadata": {"labels": {"app": "queue"}},
                "spec": {"containers": [{
                    "name": "queue",
                    "image": f"registry.example.com/mq/queue:1.0@{DIGEST}",
                    "ports": [{"containerPort": 5672}],
                    "env": [{"name": "QUEUE_TOKEN",
                             "valueFrom": {"secretKeyRef": {"name": "queue", "key": "token"}}}],
                }]},
            },
        },
    })
    report = apptemplate.capture({"name": "dev", "namespace": namespace}, kubeconfig=kubeconfig,
                                 options={"template_id": "mq", "version": "1.0.0"})
    draft = Template.from_dict(report["version"])
    assert draft.validate() == []
    assert draft.id == "mq" and draft.version == "1.0.0"
    component = report["version"]["components"][0]
    assert component["key"] == "queue"
    assert component["image"].endswith(DIGEST)
    assert component["ports"][0]["port"] == 5672
    assert report["secrets"] == [{"component": "queue", "variable": "QUEUE_TOKEN", "source": "queue/token",
                                  "handling": "required"}]
    assert "py-never-copied" not in repr(report)
