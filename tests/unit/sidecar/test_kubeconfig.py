"""API access from a kubeconfig (token, tokenFile, client certificates) or in-cluster files."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runestone_sidecar import kubeconfig


def self_signed_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def write(
    tmp_path: Path, user: Mapping[str, object], cluster: Mapping[str, object] | None = None
) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:6443/"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_inline_token(tmp_path: Path) -> None:
    access = kubeconfig.from_kubeconfig(write(tmp_path, {"token": "s3cret"}))
    assert access.server == "https://127.0.0.1:6443"
    assert access.bearer_token() == "s3cret"
    assert "s3cret" not in repr(access)


def test_token_file_is_reread_so_rotation_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("one\n")
    access = kubeconfig.from_kubeconfig(write(tmp_path, {"tokenFile": "token"}))
    assert access.bearer_token() == "one"
    (tmp_path / "token").write_text("two")
    assert access.bearer_token() == "two"


def test_certificate_authority_data_and_tls_server_name(tmp_path: Path) -> None:
    cluster = {
        "server": "https://10.0.0.1",
        "certificate-authority-data": base64.b64encode(self_signed_pem()).decode(),
        "tls-server-name": "kubernetes",
    }
    access = kubeconfig.from_kubeconfig(write(tmp_path, {"token": "t"}, cluster))
    assert access.ssl_context is not None
    assert access.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert access.tls_server_name == "kubernetes"


def test_exec_plugins_are_refused_clearly(tmp_path: Path) -> None:
    path = write(tmp_path, {"exec": {"command": "aws", "apiVersion": "x"}})
    with pytest.raises(kubeconfig.ConfigError, match="exec or auth-provider"):
        kubeconfig.from_kubeconfig(path)


def test_missing_context_and_file(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(yaml.safe_dump({"current-context": "nope", "contexts": []}))
    with pytest.raises(kubeconfig.ConfigError, match="no context 'nope'"):
        kubeconfig.from_kubeconfig(path)
    with pytest.raises(kubeconfig.ConfigError, match="cannot read"):
        kubeconfig.from_kubeconfig(tmp_path / "absent")


def test_load_prefers_kubeconfig_then_in_cluster(tmp_path: Path) -> None:
    path = write(tmp_path, {"token": "t"})
    assert kubeconfig.load({"KUBECONFIG": f"{path}:/other"}).source == f"kubeconfig {path}"
    with pytest.raises(kubeconfig.ConfigError, match="neither"):
        kubeconfig.load({})


def test_in_cluster(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("projected")
    (tmp_path / "ca.crt").write_bytes(self_signed_pem())
    access = kubeconfig.in_cluster("fd00::1", "443", tmp_path)
    assert access.server == "https://[fd00::1]:443"
    assert access.bearer_token() == "projected"


def test_json_kubeconfig_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://h:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    assert kubeconfig.from_kubeconfig(path).server == "https://h:1"
    path.write_text("clusters: [unclosed")
    with pytest.raises(kubeconfig.ConfigError, match="cannot read"):
        kubeconfig.from_kubeconfig(path)
