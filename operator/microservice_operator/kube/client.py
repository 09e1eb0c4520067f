"""A small async Kubernetes REST client on aiohttp (the HTTP stack kopf already uses).

Bodies stay plain dicts end to end: no model classes, no round-trips. Writes
use server-side apply with one field manager. Concurrency is bounded by a
semaphore so a restart over thousands of objects cannot flood the API server.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp

from microservice_operator import __version__
from microservice_operator.kube.config import Connection, load_connection
from microservice_operator.kube.resources import KNOWN, Resource
from microservice_operator.observability import REST_REQUESTS

FIELD_MANAGER = "microservice-operator"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE = "application/merge-patch+json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT = 10.0
USER_AGENT = f"microservice-operator/{__version__}"

Body = dict[str, Any]


class ApiError(Exception):
    """A non-success answer from the API server, with its Status fields."""

    def __init__(self, status: int, reason: str, message: str, body: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = dict(body)

    @property
    def not_found(self) -> bool:
        """True for 404."""
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """True for 409 (already exists, or a resourceVersion conflict)."""
        return self.status == 409


def retry_wait(retry_after: str | None, backoff: float, jitter: float) -> float:
    """Seconds to wait before retrying an answer in ``RETRY_STATUSES``.

    The server's ``Retry-After`` (whole seconds) is a floor under our own backoff,
    capped at ``MAX_RETRY_WAIT``; ``jitter`` (0 to 1) stretches the wait by up to
    half, so clients turned away together do not all come back together.
    """
    wait = backoff
    if retry_after and retry_after.isdigit():
        wait = max(wait, float(retry_after))
    return min(wait, MAX_RETRY_WAIT) * (1.0 + jitter / 2)


class KubeClient:
    """Async access to one API server. Use as ``async with KubeClient.connect():``."""

    def __init__(
        self,
        connection: Connection,
        *,
        max_concurrency: int = 32,
        retries: int = 5,
        timeout: float = 60.0,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.connection = connection
        self.user_agent = user_agent
        self.writes: Counter[str] = Counter()
        self._limit = asyncio.Semaphore(max_concurrency)
        self._retries = retries
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._discovered: dict[tuple[str, str], Resource] = {}

    @classmethod
    def connect(cls, kubeconfig: str | None = None, **kwargs: Any) -> KubeClient:
        """A client for ``kubeconfig``, ``$KUBECONFIG`` or the in-cluster account."""
        return cls(load_connection(kubeconfig), **kwargs)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self.connection.ssl_context(), limit=64)
            self._session = aiohttp.ClientSession(
                base_url=self.connection.server, connector=connector, timeout=self._timeout
            )
        return self._session

    # ------------------------------------------------------------------ raw
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Body:
        """One request with retries on 429/5xx and connection errors; JSON answer."""
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        token = self.connection.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            # UTF-8, not ASCII escapes: apply bodies go as YAML, which rejects the
            # surrogate-pair escapes JSON uses for characters outside the BMP.
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        delay = 0.2
        for attempt in range(self._retries + 1):
            try:
                async with (
                    self._limit,
                    self._http().request(
                        method, path, params=params, data=data, headers=headers
                    ) as response,
                ):
                    text = await response.text()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == self._retries:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            REST_REQUESTS.labels(method, str(status)).inc()
            if method != "GET" and status < 400:
                self.writes[method] += 1
            if status in RETRY_STATUSES and attempt < self._retries:
                await asyncio.sleep(retry_wait(retry_after, delay, random.random()))
                delay = min(delay * 2, 5.0)
                continue
            payload: Body = json.loads(text) if text.strip().startswith("{") else {}
            if status >= 400:
                raise ApiError(
                    status,
                    str(payload.get("reason") or response.reason or ""),
                    str(payload.get("message") or text[:500]),
                    payload,
                )
            return payload
        raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------- resources
    async def resource(self, api_version: str, kind: str) -> Resource:
        """The REST resource for a kind: known table first, then API discovery."""
        key = (api_version, kind)
        if key in KNOWN:
            return KNOWN[key]
        if key not in self._discovered:
            root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = await self.request("GET", root)
            for item in listing.get("resources", []):
                if "/" not in item["name"]:
                    self._discovered[(api_version, item["kind"])] = Resource(
                        api_version, item["kind"], item["name"], bool(item["namespaced"])
                    )
            if key not in self._discovered:
                raise ApiError(404, "NotFound", f"{kind} is not served by {api_version}", {})
        return self._discovered[key]

    async def _path(self, obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata", {})
        res = await self.resource(obj["apiVersion"], obj["kind"])
        return res.path(meta.get("namespace"), meta.get("name"))

    # ---------------------------------------------------------------- verbs
    async def get(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        cached: bool = False,
    ) -> Body | None:
        """The object, or None when it does not exist.

        ``cached``: from the API server's watch cache (``resourceVersion=0``), which
        may be a moment behind, instead of a quorum read from etcd.
        """
        res = await self.resource(api_version, kind)
        params = {"resourceVersion": "0"} if cached else None
        try:
            return await self.request("GET", res.path(namespace, name), params=params)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[Body]:
        """All objects of a kind (chunked LIST), optionally filtered server-side."""
        return [item async for item in self.iterate(api_version, kind, namespace, label_selector)]

    async def iterate(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        *,
        chunk: int = 500,
    ) -> AsyncIterator[Body]:
        """Yield objects page by page."""
        res = await self.resource(api_version, kind)
        params = {"limit": str(chunk)}
        if label_selector:
            params["labelSelector"] = label_selector
        while True:
            page = await self.request("GET", res.path(namespace), params=params)
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                yield item
            token = page.get("metadata", {}).get("continue")
            if not token:
                return
            params["continue"] = token

    async def create(self, obj: Mapping[str, Any], *, dry_run: bool = False) -> Body:
        """POST a new object."""
        meta = obj.get("metadata", {})
        res = await self.resource(obj["apiVersion"], obj["kind"])
        params = {"dryRun": "All"} if dry_run else None
        return await self.request("POST", res.path(meta.get("namespace")), params=params, body=obj)

    async def apply(
        self, obj: Mapping[str, Any], *, force: bool = True, dry_run: bool = False
    ) -> Body:
        """Server-side apply with the operator's field manager."""
        params = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return await self.request(
            "PATCH", await self._path(obj), params=params, body=obj, content_type=APPLY_CONTENT_TYPE
        )

    async def replace(self, obj: Mapping[str, Any]) -> Body:
        """PUT a whole object; its resourceVersion makes it a compare-and-swap (409 on a race)."""
        return await self.request("PUT", await self._path(obj), body=obj)

    async def patch_merge(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
    ) -> Body:
        """A JSON merge patch, optionally on a subresource such as ``status``."""
        res = await self.resource(api_version, kind)
        path = res.path(namespace, name) + (f"/{subresource}" if subresource else "")
        return await self.request("PATCH", path, body=patch, content_type=MERGE_CONTENT_TYPE)

    async def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete an object; False when it was already gone."""
        res = await self.resource(api_version, kind)
        try:
            await self.request(
                "DELETE",
                res.path(namespace, name),
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": propagation,
                },
            )
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return True
