"""Headless Chromium driven through chromedriver's W3C WebDriver endpoints, over httpx.

The few WebDriver commands the report page needs (open a URL, read the page, find and
click an element) are plain HTTP (https://www.w3.org/TR/webdriver2/#endpoints), so the
tests speak them directly rather than pull in a WebDriver client library.
``headless_chromium`` skips the test, with the reason, when Debian's ``chromium`` and
``chromium-driver`` packages are not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import missing_server

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element identifier key
START_TIMEOUT = 30.0


@dataclass
class Browser:
    """One WebDriver session."""

    http: httpx.AsyncClient
    session: str

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.request(method, f"/session/{self.session}{path}", json=body)
        value = answer.json()["value"]
        if answer.status_code != 200:
            raise AssertionError(f"WebDriver {method} {path}: {value}")
        return value

    async def open(self, url: str) -> None:
        await self._call("POST", "/url", {"url": url})

    async def source(self) -> str:
        return str(await self._call("GET", "/source"))

    async def title(self) -> str:
        return str(await self._call("GET", "/title"))

    async def click(self, css: str) -> None:
        found = await self._call("POST", "/element", {"using": "css selector", "value": css})
        await self._call("POST", f"/element/{found[ELEMENT]}/click", {})

    async def wait_for_title(self, title: str) -> None:
        """Until the page shown has ``title`` (a form's answer has loaded), 15 s at most."""
        for _ in range(150):
            if await self.title() == title:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the page's title stayed {await self.title()!r}, not {title!r}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    """A fresh headless Chromium session; skips when Chromium or its driver is missing."""
    binary = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        missing_server(
            "headless Chromium not installed (scripts/install-debs.sh chromium, or apt-get "
            "install chromium chromium-driver)"
        )
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        driver, f"--port={port}", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="helpdesk-chromium-") as profile:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=START_TIMEOUT
            ) as http:
                await _ready(http)
                options = {"binary": binary, "args": [
                    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", f"--user-data-dir={profile}",
                ]}
                made = await http.post("/session", json={"capabilities": {"alwaysMatch": {
                    "browserName": "chrome", "goog:chromeOptions": options}}})
                assert made.status_code == 200, made.text
                browser = Browser(http, made.json()["value"]["sessionId"])
                try:
                    yield browser
                finally:
                    await http.delete(f"/session/{browser.session}")
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def _ready(http: httpx.AsyncClient) -> None:
    for _ in range(int(START_TIMEOUT * 10)):
        with contextlib.suppress(httpx.TransportError):
            status = await http.get("/status")
            if status.status_code == 200 and status.json()["value"].get("ready"):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("chromedriver did not become ready")
