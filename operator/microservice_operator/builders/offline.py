"""Everything a set of MicroServices gets, computed offline (`msop render`).

The same builders the reconciler uses, with the relations resolved among the
given MicroServices and the optional integrations assumed present. Generated
Secrets (database credentials, the issuer's signing key) are not shown: they
are created once, in the cluster, and never leave it.
"""

from __future__ import annotations

from microservice_operator.api.v1alpha1 import DatabaseMode
from microservice_operator.builders import Injection, Manifest, Owner, build_children
from microservice_operator.builders.database import (
    build_cnpg_cluster,
    build_database_service,
    build_database_statefulset,
    database_env,
)
from microservice_operator.builders.monitoring import (
    build_dashboard_config_map,
    build_prometheus_rule,
    build_service_monitor,
)
from microservice_operator.builders.relations import (
    Peer,
    Relations,
    build_network_policies,
    issuer_volume,
    relation_env,
)

Key = tuple[str, str]


def _references(owner: Owner) -> list[Key]:
    refs = [(d.namespace or owner.namespace, d.name) for d in owner.spec.depends_on or []]
    auth = owner.spec.auth
    if auth is not None and auth.issuer_ref is not None:
        refs.append((auth.issuer_ref.namespace or owner.namespace, auth.issuer_ref.name))
    return refs


def resolve_offline(owners: list[Owner]) -> dict[Key, Relations]:
    """Relations among ``owners`` as if they were all Ready."""
    by_key = {(o.namespace, o.name): o for o in owners}

    def peer(key: Key, service_port: int | None = None) -> Peer:
        other = by_key.get(key)
        port = other.spec.port if other else None
        return Peer(
            key[1],
            key[0],
            exists=other is not None,
            ready=other is not None,
            container_port=port,
            service_port=service_port or 80,
        )

    out = {}
    for key, owner in by_key.items():
        auth = owner.spec.auth
        issuer = None
        if auth is not None and auth.issuer_ref is not None:
            issuer = peer((auth.issuer_ref.namespace or owner.namespace, auth.issuer_ref.name))
        dependents = sorted(k for k, o in by_key.items() if key in _references(o))
        out[key] = Relations(
            dependencies=[
                peer((d.namespace or owner.namespace, d.name), d.port)
                for d in owner.spec.depends_on or []
            ],
            issuer=issuer,
            dependents=[peer(k) for k in dependents],
        )
    return out


def render_all(owners: list[Owner]) -> list[Manifest]:
    """Every child of every MicroService, in apply order."""
    relations = resolve_offline(owners)
    manifests: list[Manifest] = []
    for owner in owners:
        rel = relations[(owner.namespace, owner.name)]
        extra: list[Manifest] = []
        database = owner.spec.database
        if database is not None and database.mode is DatabaseMode.DEDICATED:
            extra += [build_database_statefulset(owner), build_database_service(owner)]
        elif database is not None and database.mode is DatabaseMode.CLOUDNATIVEPG:
            extra.append(build_cnpg_cluster(owner))
        extra += build_network_policies(owner, rel)
        extra += [
            m
            for m in (
                build_service_monitor(owner),
                build_prometheus_rule(owner),
                build_dashboard_config_map(owner),
            )
            if m is not None
        ]
        volumes, mounts = issuer_volume(owner)
        injection = Injection(
            env=[*database_env(owner), *relation_env(owner, rel)],
            children=extra,
            volumes=volumes,
            volume_mounts=mounts,
        )
        manifests += build_children(owner, injection)
    return manifests
