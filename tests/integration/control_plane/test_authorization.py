"""Authorization is really on: a ServiceAccount may do only what RBAC grants it."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kube import Cluster, eventually


def _client_for_token(kube_cluster: Cluster, token: str) -> client.ApiClient:
    admin = kube_cluster.api.configuration
    configuration = client.Configuration()
    configuration.host = admin.host
    configuration.ssl_ca_cert = admin.ssl_ca_cert
    configuration.verify_ssl = admin.verify_ssl
    configuration.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(configuration)


def test_service_account_token_is_refused_without_rbac_and_allowed_with_it(
    kube_cluster: Cluster, namespace: str
) -> None:
    core, rbac = client.CoreV1Api(kube_cluster.api), client.RbacAuthorizationV1Api(kube_cluster.api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    token = core.create_namespaced_service_account_token(
        "reader",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token

    with _client_for_token(kube_cluster, token) as api:
        as_reader = client.CoreV1Api(api)
        with pytest.raises(ApiException) as refused:
            as_reader.list_namespaced_config_map(namespace)
        assert refused.value.status == 403
        assert f"system:serviceaccount:{namespace}:reader" in refused.value.body

        rbac.create_namespaced_role(
            namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="read-configmaps"),
                rules=[
                    client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["list"])
                ],
            ),
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="reader"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="read-configmaps"
                ),
                subjects=[
                    client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)
                ],
            ),
        )
        eventually(
            lambda: as_reader.list_namespaced_config_map(namespace) is not None,
            what="the grant to apply",
        )
        # The grant is exactly what was bound: secrets and other namespaces stay closed.
        with pytest.raises(ApiException) as still_refused:
            as_reader.list_namespaced_secret(namespace)
        assert still_refused.value.status == 403
        with pytest.raises(ApiException) as other_namespace:
            as_reader.list_namespaced_config_map("default")
        assert other_namespace.value.status == 403


def test_anonymous_requests_are_refused(kube_cluster: Cluster) -> None:
    admin = kube_cluster.api.configuration
    configuration = client.Configuration()
    configuration.host = admin.host
    configuration.ssl_ca_cert = admin.ssl_ca_cert
    with client.ApiClient(configuration) as api, pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).list_namespace()
    assert refused.value.status in (401, 403)
