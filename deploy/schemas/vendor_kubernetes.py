"""Vendor the Kubernetes JSON schemas of the kinds deploy/kustomize uses (deploy/schemas/README.md).

Source: the PyPI package kubernetes-validate (its `kubernetes-json-schema/<version>-local-strict/`
tree, openapi2jsonschema output with `additionalProperties: false`). Run with the wheel's path:

    python deploy/schemas/vendor_kubernetes.py kubernetes_validate-1.37.0-py3-none-any.whl

Each kind's file is copied byte for byte; `_definitions.json` keeps its `$schema` and `$id` and
only the definitions those files reach through `$ref` (`/api/_definitions.json#/$defs/NAME`),
each definition's JSON unchanged: a few hundred kilobytes instead of the whole API.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

VERSION = "v1.33.0-local-strict"
KINDS = (
    "configmap-v1.json",
    "deployment-apps-v1.json",
    "horizontalpodautoscaler-autoscaling-v2.json",
    "namespace-v1.json",
    "networkpolicy-networking-v1.json",
    "poddisruptionbudget-policy-v1.json",
    "service-v1.json",
)
OUT = Path(__file__).resolve().parent / "kubernetes" / VERSION


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(refs(item) for item in node)) if node else set()
    return set()


def main(wheel: str) -> None:
    base = f"kubernetes_validate/kubernetes-json-schema/{VERSION}/"
    with zipfile.ZipFile(wheel) as archive:
        whole = json.loads(archive.read(base + "_definitions.json"))
        definitions = whole["$defs"]
        OUT.mkdir(parents=True, exist_ok=True)
        todo: set[str] = set()
        for kind in KINDS:
            text = archive.read(base + kind)
            (OUT / kind).write_bytes(text)
            todo |= refs(json.loads(text))
    kept: dict[str, Any] = {}
    while todo:
        name = todo.pop().split("#/$defs/")[1]
        if name not in kept:
            kept[name] = definitions[name]
            todo |= refs(definitions[name])
    ordered = {name: kept[name] for name in sorted(kept)}
    cut = {key: value for key, value in whole.items() if key != "$defs"} | {"$defs": ordered}
    (OUT / "_definitions.json").write_text(json.dumps(cut, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
