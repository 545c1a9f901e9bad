"""Serve the sandbox over HTTPS on 127.0.0.1, in-process or from a background thread.

The okta SDK refuses ``http://`` org URLs outside its testing mode, so the sandbox
speaks TLS with a throwaway CA made by ``trustme`` at start-up. The port is chosen by
the OS (port 0) and reported in ``OktaSandbox.url``::

    async with run_okta_sandbox(load_seed(DEMO_SEED)) as sb:
        client = okta.client.Client(sb.okta_config("demo-token-not-secret"))

    with OktaSandboxThread(state) as sb:      # from synchronous code
        httpx.get(f"{sb.url}/api/v1/users", verify=sb.ssl_context(), headers=...)
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from starlette.applications import Starlette

from sandboxes.okta.app import create_app
from sandboxes.okta.faults import FaultInjector
from sandboxes.okta.ratelimit import RateLimiter
from sandboxes.okta.runtime import Runtime
from sandboxes.okta.state import OktaState
from sandboxes.serving import serving


class _SharedSSLContext(ssl.SSLContext):
    """An SSL context whose deep copy is itself.

    okta SDK 3.4.6 deep-copies its whole configuration (``ConfigSetter.get_config``),
    and a plain ``SSLContext`` cannot be copied; sharing the one context is what the
    SDK's ``sslContext`` option intends.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedSSLContext:
        return self


@dataclass(frozen=True)
class TlsFiles:
    """The test CA certificate and the server's certificate chain and key."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_tls_files(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> TlsFiles:
    """Create a CA and a server certificate for ``hosts`` under ``directory``."""
    ca = trustme.CA(organization_name="Okta sandbox test CA")
    server_cert = ca.issue_cert(*hosts)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_path))
    server_cert.cert_chain_pems[0].write_to_path(str(files.cert_path))
    for extra in server_cert.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_path), append=True)
    server_cert.private_key_pem.write_to_path(str(files.key_path))
    return files


@dataclass
class OktaSandbox:
    """A running sandbox: its URL, CA file, org state and app."""

    url: str
    ca_path: Path
    state: OktaState
    app: Starlette

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.okta
        return runtime

    @property
    def faults(self) -> FaultInjector:
        """Arm failures, hangs and latency (see :mod:`sandboxes.okta.faults`)."""
        return self.runtime.faults

    @property
    def limiter(self) -> RateLimiter:
        return self.runtime.limiter

    def ssl_context(self) -> ssl.SSLContext:
        """Return a client SSL context that trusts the sandbox's CA (and survives deepcopy)."""
        context = _SharedSSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cafile=str(self.ca_path))
        return context

    def okta_config(self, token: str | None = None, **client_options: Any) -> dict[str, Any]:
        """Return an ``okta.client.Client`` configuration for this sandbox.

        ``token`` is an SSWS API token; leave it out for ``PrivateKey`` (OAuth) mode and
        pass ``authorizationMode``, ``clientId``, ``scopes``, ``privateKey`` instead.
        """
        config: dict[str, Any] = {"orgUrl": self.url, "sslContext": self.ssl_context()}
        if token is not None:
            config["token"] = token
        return {**config, **client_options}


def tls_options(tls: TlsFiles) -> dict[str, Any]:
    """uvicorn options serving the sandbox over TLS, with Date from the sandbox's own clock."""
    return {
        "ssl_certfile": str(tls.cert_path),
        "ssl_keyfile": str(tls.key_path),
        "date_header": False,  # the sandbox sends Date from its own (injectable) clock
    }


@contextlib.asynccontextmanager
async def run_okta_sandbox(
    state: OktaState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **app_options: Any,
) -> AsyncIterator[OktaSandbox]:
    """Serve ``state`` over HTTPS in the running event loop until the block exits.

    ``app_options`` go to :func:`~sandboxes.okta.app.create_app` (``rate_limits``,
    ``latency``, ``on_exchange``, ``clock``).
    """
    app = create_app(state, **app_options)
    with tempfile.TemporaryDirectory(prefix="okta-sandbox-") as tmp:
        tls = make_tls_files(Path(tmp))
        async with serving(
            app, name="Okta sandbox", host=host, port=port, **tls_options(tls)
        ) as bound:
            yield OktaSandbox(f"https://{host}:{bound}", tls.ca_path, state, app)


class OktaSandboxThread:
    """Run the sandbox in a background thread, for synchronous code.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, state: OktaState, *, host: str = "127.0.0.1", port: int = 0, **app_options: Any
    ) -> None:
        self._state = state
        self._host = host
        self._port = port
        self._app_options = app_options
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sandbox: OktaSandbox | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> OktaSandbox:
        """Start serving and return the running sandbox."""
        self._thread = threading.Thread(target=self._run, name="okta-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Okta sandbox did not start in time")
        if self._error is not None:
            raise RuntimeError("the Okta sandbox failed to start") from self._error
        assert self._sandbox is not None
        return self._sandbox

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to finish."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> OktaSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with run_okta_sandbox(
            self._state, host=self._host, port=self._port, **self._app_options
        ) as sandbox:
            self._sandbox = sandbox
            self._ready.set()
            await self._stop.wait()
