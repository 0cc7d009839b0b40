"""Synthetic OCI images for the Pig fixtures, written by the test itself.

Every Java service shares one "jdk" base layer, the UI an "nginx" one, the
rest an "os" one; each ``name:tag`` adds an application layer derived from
its name, so a new tag changes exactly one layer (as the Rust test kit does,
so differential packages have something to leave out).
"""

import hashlib
import io
import json
import random
import tarfile
from pathlib import Path
from typing import Any, Dict, Iterable, List

LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


def image_name(reference: str) -> str:
    """``name:tag`` of ``name:tag@sha256:...``."""
    return reference.split("@", 1)[0]


def synthetic_bytes(seed: str, size: int) -> bytes:
    """Deterministic bytes: half random (incompressible), half log lines."""
    rng = random.Random(seed)
    head = bytes(rng.getrandbits(8) for _ in range(size // 2))
    lines = b"".join(f"{seed} line {i}: service started\n".encode() for i in range(size // 20 + 1))
    return (head + lines)[:size]


def layer_tar(file_name: str, content: bytes) -> bytes:
    """A tar with one file and fixed metadata, so equal content gives equal digests."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(file_name)
        info.size = len(content)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def base_family(name: str) -> str:
    repo = name.rsplit("/", 1)[-1]
    if repo.startswith("pig-ui"):
        return "nginx"
    if repo.startswith("pig-") or repo.startswith("nacos"):
        return "jdk"
    return "os"


def descriptor(media_type: str, data: bytes) -> Dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_oci_layout(directory: Path, names: Iterable[str], base_size: int = 48 << 10,
                     app_size: int = 16 << 10) -> Dict[str, str]:
    """Writes an OCI image layout with one synthetic image per name; returns name → manifest digest."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return "sha256:" + digest

    digests: Dict[str, str] = {}
    entries: List[Dict[str, Any]] = []
    for name in sorted(set(names)):
        family = base_family(name)
        layers = [
            layer_tar(f"opt/{family}/base.bin", synthetic_bytes(family, base_size)),
            layer_tar("app/app.bin", synthetic_bytes(name, app_size)),
        ]
        for layer in layers:
            put(layer)
        config = canonical({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.title": name}},
            "rootfs": {"type": "layers", "diff_ids": [descriptor(LAYER_MEDIA_TYPE, l)["digest"] for l in layers]},
        })
        put(config)
        manifest = canonical({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": descriptor(CONFIG_MEDIA_TYPE, config),
            "layers": [descriptor(LAYER_MEDIA_TYPE, l) for l in layers],
        })
        digests[name] = put(manifest)
        entry = descriptor(MANIFEST_MEDIA_TYPE, manifest)
        entry["annotations"] = {REF_NAME: name}
        entries.append(entry)
    (directory / "index.json").write_bytes(
        canonical({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": entries}))
    (directory / "oci-layout").write_bytes(canonical({"imageLayoutVersion": "1.0.0"}))
    return digests


def image_names(document: Dict[str, Any]) -> List[str]:
    """Every image name (without digest) a template document uses."""
    refs = [c["image"] for c in document.get("components", [])]
    refs += [p["image"] for p in document.get("plugins", [])]
    return sorted({image_name(r) for r in refs})


def repin(document: Dict[str, Any], digests: Dict[str, str], logo: str) -> Dict[str, Any]:
    """The document with every image pointed at the synthetic image's digest, and the logo set."""
    doc = json.loads(json.dumps(document))
    for item in doc.get("components", []) + doc.get("plugins", []):
        name = image_name(item["image"])
        if name in digests:
            item["image"] = f"{name}@{digests[name]}"
    doc["template"]["logo"] = logo
    return doc


PIG_LOGO = b"\x89PNG\r\n\x1a\n" + synthetic_bytes("pig-logo", 2048)
