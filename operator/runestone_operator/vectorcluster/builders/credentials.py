"""The Secrets of who may connect to the members: the operator's and the sidecar's own keys, and
the engine's credentials (its list of users and keys, read into the members' environment). The
pod template carries only `digest` of the credentials, so a key change rolls the members without
any key appearing outside a Secret."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from runestone_operator.core import meta
from runestone_operator.core.builders import keys
from runestone_operator.vectorcluster import names
from runestone_operator.vectorcluster.builders.cluster import Cluster


def internal_key_secret(cluster: Cluster, secret_name: str, plaintext: str) -> meta.Manifest:
    """The operator's or the sidecar's own key (not one of the spec's)."""
    return keys.plain_key_secret(cluster.owner, secret_name, cluster.labels(), plaintext)


def credentials_secret(cluster: Cluster, data: Mapping[str, str]) -> meta.Manifest:
    """The engine's credentials, as `engine.Engine.credentials` wrote them."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": cluster.object_meta(names.credentials_secret(cluster.name, cluster.component)),
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def digest(data: Mapping[str, str]) -> str:
    """A digest of the credentials (a hash over keys that are themselves random and never shown:
    nothing of a key can be read back from it)."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()
