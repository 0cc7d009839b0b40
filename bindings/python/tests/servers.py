"""Real servers for the tests: a `docker-registry` on 127.0.0.1, and a
minimal client of the test cluster's API server (the kubeconfig that
`.ci/control-plane/start` writes: a server URL, a CA file and a token)."""

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """A docker-registry serving plain HTTP on 127.0.0.1; stopped by its PID."""

    def __init__(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            reason = "docker-registry is not installed (apt-get install docker-registry; see .ci/setup)"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        self.dir = tempfile.TemporaryDirectory(prefix="py-registry-")
        self.port = free_port()
        config = Path(self.dir.name) / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.dir.name}/data\nhttp:\n  addr: 127.0.0.1:{self.port}\n")
        self.log = open(Path(self.dir.name) / "registry.log", "wb")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdin=subprocess.DEVNULL,
                                        stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"docker-registry did not start; see {self.log.name}")
                time.sleep(0.1)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def has_manifest(self, repository: str, digest: str) -> bool:
        request = urllib.request.Request(f"http://{self.address}/v2/{repository}/manifests/{digest}", method="HEAD")
        request.add_header("Accept", "application/vnd.oci.image.manifest.v1+json")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return bool(answer.status == 200)
        except urllib.error.HTTPError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        self.dir.cleanup()


def registry_fixture() -> Iterator[Registry]:
    registry = Registry()
    try:
        yield registry
    finally:
        registry.stop()


class Cluster:
    """The API server named by a kubeconfig with a token and a CA file."""

    def __init__(self, kubeconfig: str) -> None:
        text = Path(kubeconfig).read_text(encoding="utf-8")

        def field(name: str) -> str:
            found = re.search(rf"^\s*{name}:\s*(\S+)\s*$", text, re.MULTILINE)
            if not found:
                raise RuntimeError(f"{kubeconfig} has no `{name}` (the tests need a token and a CA file)")
            return found.group(1)

        self.server = field("server").rstrip("/")
        self.token = field("token")
        self.context = ssl.create_default_context(cafile=field("certificate-authority"))

    def request(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, context=self.context, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def create(self, path: str, body: Dict[str, Any]) -> None:
        """Creates an object, keeping one that exists already."""
        try:
            self.request("POST", path, body)
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise

    def prepare(self, namespace: str, storage_class: str, claims: Dict[str, str]) -> None:
        """Fake nodes (kwok runs their pods), a storage class, and one volume
        per claim of the application, bound in advance: the control plane
        has no storage provisioner."""
        for node in ("kwok-node-a", "kwok-node-b"):
            capacity = {"cpu": "64", "memory": "512Gi", "pods": "250"}
            self.create("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {"type": "kwok"}},
                "status": {"allocatable": capacity, "capacity": capacity},
            })
        self.create("/apis/storage.k8s.io/v1/storageclasses", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": storage_class}, "provisioner": "apptemplate.test/none",
            "allowVolumeExpansion": True, "volumeBindingMode": "Immediate",
        })
        for claim in claims:
            self.create("/api/v1/persistentvolumes", {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"{namespace}-{claim}"},
                "spec": {
                    "capacity": {"storage": "100Gi"},
                    "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                    "storageClassName": storage_class,
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": f"/tmp/{namespace}/{claim}"},
                    "claimRef": {"namespace": namespace, "name": claim},
                },
            })

    def workload_images(self, namespace: str) -> Dict[str, str]:
        """The first container image of every Deployment and StatefulSet, by name."""
        images = {}
        for kind in ("deployments", "statefulsets"):
            for item in self.get(f"/apis/apps/v1/namespaces/{namespace}/{kind}")["items"]:
                images[item["metadata"]["name"]] = item["spec"]["template"]["spec"]["containers"][0]["image"]
        return images
