"""One Okta org through the Okta SDK: typed calls, raw requests and paging, one error path.

HTTP goes through the official ``okta`` SDK (its API classes the connector calls,
:class:`connectors.okta.sdk.DirectoryClient`): its typed API
methods where its models read what Okta returns, its request executor
(``create_request``/``fire_request``) where they do not, each caller saying why. One
retry, pacing and timeout policy sits under both (:mod:`connectors.okta.http`), and
every failure leaves here as a connector error (:mod:`connectors.okta.errors`).

:class:`OktaApi` is the connector's ``api`` attribute, public so that diagnostics
(the doctor) read Okta through the same transport, credentials and error mapping
as the connector; nothing here logs or raises a secret.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import ValidationError

from config.clock import Clock
from config.secrets import Secret
from connectors.errors import ConnectorError
from connectors.okta.errors import Subject, to_connector_error
from connectors.okta.http import (
    HttpStats,
    OktaHttpError,
    OktaTransportError,
    PolicyExecutor,
    RetryPolicy,
    TransportOptions,
    quiet_sdk_logger,
)
from connectors.okta.sdk import DirectoryClient
from connectors.okta.settings import Settings


class OktaApi:
    """The SDK client of one org and the one way its answers and failures are read.

    ``provider`` names the connector in the errors raised; ``stats`` counts what the
    HTTP layer did (requests, retries, 429s, pacing waits). Call :meth:`aclose` when done.
    """

    def __init__(
        self,
        provider: str,
        settings: Settings,
        *,
        api_token: Secret | None = None,
        private_key: Secret | None = None,
        timer: Clock | None = None,
    ) -> None:
        self.provider = provider
        self.org_url = settings.org_url
        self.stats = HttpStats()
        policy = RetryPolicy(max_attempts=settings.max_attempts, max_wait=settings.max_retry_wait)
        options = TransportOptions(
            request_timeout=settings.request_timeout,
            connect_timeout=settings.connect_timeout,
            max_concurrency=settings.max_concurrency,
            ca_file=str(settings.ca_file) if settings.ca_file else None,
        )
        stats = self.stats

        # The SDK builds its executor from this factory (``requestExecutor`` in the
        # client config); a function, because the SDK deep-copies its config.
        def make_executor(config: dict[str, Any], cache: Any, _http: Any) -> PolicyExecutor:
            return PolicyExecutor(
                config, cache, options=options, policy=policy, stats=stats, timer=timer
            )

        config: dict[str, Any] = {
            "orgUrl": settings.org_url,
            "userAgent": "helpdesk-bot",
            "requestTimeout": settings.request_timeout,
            # The retry policy lives in PolicyExecutor only.
            "rateLimit": {"maxRetries": 0},
            "cache": {"enabled": False},
            "logging": {"enabled": False},
            "requestExecutor": make_executor,
        }
        if api_token is not None:
            config.update(authorizationMode="SSWS", token=api_token.reveal())
        elif private_key is not None and settings.client_id is not None:
            # Fail at start-up, not at the first token request, on a key the SDK can't use.
            # (Imported here: its crypto libraries are only for this mode.)
            from okta.jwt import JWT

            JWT.get_PEM_JWK(private_key.reveal())  # type: ignore[no-untyped-call]
            config.update(
                authorizationMode="PrivateKey",
                clientId=settings.client_id,
                scopes=list(settings.scopes),
                privateKey=private_key.reveal(),
            )
            if settings.key_id:
                config["kid"] = settings.key_id
        else:
            raise ValueError("an API token or a private key is required")
        # The SDK fills keys not given here from OKTA_CLIENT_* variables and okta.yaml
        # files (https://github.com/okta/okta-sdk-python#configuration-reference).
        self.client = DirectoryClient(config)
        quiet_sdk_logger()
        executor = self.client.get_request_executor()
        assert isinstance(executor, PolicyExecutor)
        self._executor = executor

    async def sdk(self, subject: Subject, call: Awaitable[Any]) -> Any:
        """Await a typed SDK method and return its data, or raise a connector error.

        The executor raises on every HTTP failure; what is left is an error value the
        SDK itself produced (an OAuth token answer it could not use, for instance).
        """
        try:
            result = await call
        except (OktaHttpError, OktaTransportError) as exc:
            raise to_connector_error(self.provider, exc, subject) from exc
        except ValidationError as exc:
            raise ConnectorError(
                self.provider,
                f"the Okta SDK could not read the answer ({exc.error_count()} errors)",
            ) from None
        error = result[-1]
        if error is not None:
            raise ConnectorError(self.provider, f"Okta SDK error: {type(error).__name__}")
        return result[0]

    async def request(
        self, method: str, url: str, subject: Subject, body: Mapping[str, Any] | None = None
    ) -> tuple[Any, str | None]:
        """One request through the SDK's executor; returns the JSON body and the next link.

        Used where the SDK's typed methods lose something Okta sends (see the callers).
        ``body`` is sent as JSON.
        """
        executor = self._executor
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            request, error = await executor.create_request(
                method, url, dict(body) if body is not None else {}, headers
            )
            if error is not None:
                raise ConnectorError(self.provider, f"Okta SDK error: {type(error).__name__}")
            _, response, answer, _ = await executor.fire_request(request)
        except (OktaHttpError, OktaTransportError) as exc:
            raise to_connector_error(self.provider, exc, subject) from exc
        try:
            data = json.loads(answer) if answer else None
        except ValueError:
            raise ConnectorError(
                self.provider, "Okta answered with a body that is not JSON"
            ) from None
        next_link = response.links.get("next")
        return data, str(next_link["url"]) if next_link else None

    async def get(
        self, path: str, params: Mapping[str, str] | None = None, *, subject: Subject
    ) -> Any:
        """``GET`` one path of this org and return its JSON body (read-only)."""
        data, _ = await self.request("GET", self.url(path, params), subject)
        return data

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """The absolute URL of ``path`` on this org, with ``params`` as its query."""
        # %20 rather than '+' for spaces, as Okta's docs encode search expressions.
        query = f"?{urlencode(dict(params), quote_via=quote)}" if params else ""
        return f"{self.org_url}{path}{query}"

    async def pages(
        self, path: str, params: Mapping[str, str], subject: Subject
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page of a list, following ``Link: <...>; rel="next"`` to the end.

        The typed list methods return headers flattened into a dict
        (``ApiResponse.headers``), and Okta sends one ``Link`` header per relation, so
        whether ``rel="next"`` survives depends on header order; aiohttp's parsed
        ``links`` keep every relation. Okta's cursor is opaque
        (https://developer.okta.com/docs/api/#pagination), so the next URL is used as
        given, but only on this org's origin: the request carries our credentials.
        """
        url: str | None = self.url(path, params)
        while url is not None:
            data, next_url = await self.request("GET", url, subject)
            if not isinstance(data, list):
                raise ConnectorError(
                    self.provider, f"Okta answered {path} with something not a list"
                )
            yield [item for item in data if isinstance(item, dict)]
            if next_url is not None and not next_url.startswith(self.org_url + "/"):
                raise ConnectorError(self.provider, "Okta's next-page link points off the org")
            url = next_url

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._executor.aclose()


async def gather_all(*calls: Awaitable[Any]) -> list[Any]:
    """Await calls concurrently; once all are done, raise the first failure, if any.

    Unlike a bare ``gather``, no call is left running (or failing unobserved) after
    another one fails.
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)
