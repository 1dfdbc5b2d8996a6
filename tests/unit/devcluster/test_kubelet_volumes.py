"""The process kubelet's Secret and ConfigMap volumes: `items` pick keys, and a key missing from an
optional source is left out (as a kubelet does), so a pod mounting a Secret that does not exist
yet starts, and gets the file once the Secret is there."""

from __future__ import annotations

import pytest
from kubernetes import client

from devcluster.kubelet import volumes

ITEMS = [client.V1KeyToPath(key="api-key", path="api-key")]


def test_items_pick_keys() -> None:
    files = volumes.VolumeSource._select({"api-key": b"k", "other": b"o"}, ITEMS, 0o644)
    assert files == {"api-key": volumes.File(b"k", 0o644)}


def test_a_missing_key_of_an_optional_source_is_left_out() -> None:
    assert volumes.VolumeSource._select({}, ITEMS, 0o644, optional=True) == {}


def test_a_missing_key_of_a_required_source_is_an_error() -> None:
    with pytest.raises(KeyError, match="api-key"):
        volumes.VolumeSource._select({}, ITEMS, 0o644)
