"""Run the built image once against the local PostgreSQL (``scripts/image-smoke.sh`` calls this).

The container shares the host's network: PostgreSQL on 127.0.0.1, a Slack fake and the Okta
sandbox from ``sandboxes`` started here (the bot's Slack base URL and Okta org URL point at
them; the sandbox's CA is mounted beside the configuration), and the bot's port. Secrets
reach the container as files, as compose and Kubernetes mount them. Each check prints one line
with its time; the first failure stops the run (exit 1) after printing the container's log.
Runs in HTTP mode, then in Socket Mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shlex
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import yaml

from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, OktaSandbox, load_seed, run_okta_sandbox
from sandboxes.slack import (
    SlackEventSender,
    SlackState,
    SocketModeTransport,
    Workspace,
    run_slack_fake,
)

ADA = "U0ADA00001"
ADA_EMAIL = "ada.lovelace@example.com"
T0 = time.monotonic()


class SmokeFailed(Exception):
    pass


def say(what: str) -> None:
    print(f"  [{time.monotonic() - T0:6.1f}s] {what}", flush=True)


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SmokeFailed(what)
    say(f"ok   {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Engine:
    """The container engine command (podman, with the flags this host needs)."""

    def __init__(self, command: str, run_flags: str, image: str) -> None:
        self.command = shlex.split(command)
        self.run_flags = shlex.split(run_flags)
        self.image = image

    async def call(self, *args: str, limit: float = 120) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.command, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), limit)
        # The engine's own complaints (podman: no systemd for health timers) are not the bot's.
        lines = err.decode(errors="replace").splitlines(keepends=True)
        mine = "".join(line for line in lines if not line.startswith('time="'))
        return proc.returncode or 0, out.decode(errors="replace"), mine

    async def run(self, *args: str, mounts: Sequence[str] = (), env: Sequence[str] = ()) -> tuple[
        int, str, str
    ]:
        flags = [*self.run_flags, "--rm", "--no-healthcheck", "--network", "host"]
        for m in mounts:
            flags += ["-v", m]
        for e in env:
            flags += ["-e", e]
        return await self.call("run", *flags, self.image, *args)


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped afterwards; yields its URL."""
    admin = await asyncpg.connect(admin_url, timeout=10)
    name = f"helpdesk_smoke_{secrets.token_hex(4)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def write_deployment(
    root: Path, database_url: str, slack_url: str, okta: OktaSandbox, port: int, *,
    socket_mode: bool = False,
) -> dict[str, str]:
    """Config and secret files as compose and Kubernetes mount them; returns the secrets."""
    values = {
        "slack-bot-token": "",  # filled by the caller with the fake's token
        "slack-signing-secret": secrets.token_hex(16),
        "database-password": secrets.token_hex(12),  # trust auth here: carried, not checked
        "okta-api-token": DEMO_TOKEN,
    }
    config: dict[str, Any] = {
        "organisation": {"name": "Smoke Corp", "it_channel": "#it-help"},
        "slack": {
            "bot_token": {"file": "/run/secrets/helpdesk/slack-bot-token"},
            "signing_secret": {"file": "/run/secrets/helpdesk/slack-signing-secret"},
            "api_base_url": slack_url,
            "host": "127.0.0.1",
            "port": port,
        },
        "database_url": database_url,
        "connectors": {"okta": {
            "kind": "okta", "org_url": okta.url,
            "api_token": {"file": "/run/secrets/helpdesk/okta-api-token"},
            "ca_file": "/etc/helpdesk/okta-ca.pem",
        }},
        "capabilities": {"password_expiry": "okta", "password_reset": "okta", "unlock": "okta"},
    }
    if socket_mode:
        config["slack"]["app_token"] = {"file": "/run/secrets/helpdesk/slack-app-token"}
        values["slack-app-token"] = ""  # the fake's, filled by the caller
    (root / "config").mkdir(mode=0o755, exist_ok=True)
    (root / "config" / "helpdesk.yaml").write_text(yaml.safe_dump(config))
    shutil.copyfile(okta.ca_path, root / "config" / "okta-ca.pem")
    (root / "config" / "okta-ca.pem").chmod(0o644)
    (root / "config" / "helpdesk.yaml").chmod(0o644)
    (root / "secrets").mkdir(mode=0o755, exist_ok=True)
    return values


def save_secrets(root: Path, values: dict[str, str]) -> None:
    for name, value in values.items():
        path = root / "secrets" / name
        path.write_text(value + "\n")
        path.chmod(0o644)  # read by the image's user (uid 10001), as a mounted secret is
    for p in (root, root / "config"):
        p.chmod(0o755)


async def get(url: str) -> httpx.Response | None:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.get(url)
    except httpx.HTTPError:
        return None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory(pid: int) -> dict[str, float]:
    """RSS in MiB of a process and its children (the bot and its HTTP ingress), by command."""
    procs = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        procs += [int(c) for c in (task / "children").read_text().split()]
    return {
        Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ").strip()[:60]:
        round(rss_kib(p) / 1024, 1) for p in procs
    }


async def smoke(args: argparse.Namespace) -> dict[str, Any]:
    engine = Engine(args.engine, args.run_flags, args.image)
    figures: dict[str, Any] = {}
    code, out, _ = await engine.run("--version")
    check(code == 0 and out.strip().startswith("helpdesk "), f"--version: {out.strip()}")

    # The packaged configuration uses SQLite under the working directory: refused unless a
    # volume is mounted there; with one, the next thing missing is Slack's credentials.
    code, _, err = await engine.run()
    check(code == 2 and err.startswith("refusing to start: SQLite at /var/lib/helpdesk/"),
          "run refuses SQLite off a volume (exit 2, one line)")
    with tempfile.TemporaryDirectory() as volume:
        os.chmod(volume, 0o777)  # noqa: S103 - a throwaway folder the image's user must reach
        code, _, err = await engine.run(mounts=[f"{volume}:/var/lib/helpdesk"])
        check(code == 2 and "no demo: running in the container image" in err,
              "with a volume: no Slack credentials is exit 2, never the demo")
        code, _, err = await engine.run(env=["HELPDESK_ALLOW_EPHEMERAL_SQLITE=1"])
        check(code == 2 and "no demo" in err, "HELPDESK_ALLOW_EPHEMERAL_SQLITE=1 waives it")

    workspace = Workspace.from_dict({
        "team": {"id": "T0SMOKE001", "name": "Smoke", "domain": "smoke"},
        "users": [{"id": ADA, "name": "ada", "profile": {"email": ADA_EMAIL}}],
    })
    state = SlackState(workspace)
    async with contextlib.AsyncExitStack() as stack:
        database = await stack.enter_async_context(fresh_database(args.pg))
        say(f"fresh database {database.rsplit('/', 1)[1]}")
        fake = await stack.enter_async_context(run_slack_fake(state))
        okta = await stack.enter_async_context(run_okta_sandbox(load_seed(DEMO_SEED)))
        root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        port = free_port()
        values = write_deployment(root, database, fake.base_url, okta, port)
        values["slack-bot-token"] = fake.token
        save_secrets(root, values)
        mounts = [f"{root}/config:/etc/helpdesk:ro", f"{root}/secrets:/run/secrets/helpdesk:ro"]
        env = ["HELPDESK_CONFIG=/etc/helpdesk/helpdesk.yaml",
               "DATABASE_PASSWORD_FILE=/run/secrets/helpdesk/database-password"]

        code, out, _ = await engine.run("migrate", "--check", mounts=mounts, env=env)
        check(code == 1 and "behind: at empty" in out, "migrate --check on a new database: exit 1")
        started = time.monotonic()
        code, out, err = await engine.run("migrate", mounts=mounts, env=env)
        check(code == 0 and "migrated from empty" in out,
              f"migrate: {out.strip().split(': ', 1)[-1]} in {time.monotonic() - started:.1f}s")
        code, out, _ = await engine.run("migrate", "--check", mounts=mounts, env=env)
        check(code == 0 and "at head" in out, "migrate --check after: exit 0")
        check(values["database-password"] not in out, "the password is not printed")

        env.append(f"HELPDESK_HEALTH_URL=http://127.0.0.1:{port}/healthz")
        name, started = await start(engine, stack, "http", mounts, env, args.keep)
        await on_failure_show_log(
            engine, name, serve_checks(engine, name, port, state, values, started, figures)
        )

        say("Socket Mode: the same image with an app-level token, no HTTP endpoint for Slack")
        assert fake.app_token is not None
        values = write_deployment(root, database, fake.base_url, okta, port, socket_mode=True)
        values["slack-bot-token"], values["slack-app-token"] = fake.token, fake.app_token
        save_secrets(root, values)
        name, started = await start(engine, stack, "socket", mounts, env, args.keep)
        await on_failure_show_log(
            engine, name, socket_checks(
                engine, name, fake.socket_mode, state, values, figures, f"http://127.0.0.1:{port}"
            )
        )
    return figures


async def start(
    engine: Engine, stack: contextlib.AsyncExitStack, mode: str, mounts: Sequence[str],
    env: Sequence[str], keep: bool,
) -> tuple[str, float]:
    """``helpdesk run`` in the background, hardened as the deployments run it."""
    name = f"helpdesk-smoke-{mode}-{secrets.token_hex(3)}"
    flags = [*engine.run_flags, "-d", "--name", name, "--network", "host",
             "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",  # noqa: S108 - in the container
             "--security-opt", "no-new-privileges"]
    for m in mounts:
        flags += ["-v", m]
    for e in env:
        flags += ["-e", e]
    started = time.monotonic()
    code, _, err = await engine.call("run", *flags, engine.image)
    check(code == 0, f"helpdesk run started as {name} (read-only root, no capabilities) {err}")
    stack.push_async_callback(cleanup, engine, name, keep)
    return name, started


async def on_failure_show_log(engine: Engine, name: str, checks: Any) -> None:
    try:
        await checks
    except (SmokeFailed, TimeoutError) as exc:
        _, out, err = await engine.call("logs", name)
        print((out + err)[-6000:], file=sys.stderr)
        raise SmokeFailed(str(exc) or "timed out waiting for the bot") from None


async def serve_checks(
    engine: Engine, name: str, port: int, state: SlackState, values: dict[str, str],
    started: float, figures: dict[str, Any],
) -> None:
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    healthy = None
    while time.monotonic() < deadline:
        healthy = await get(f"{base}/healthz")
        if healthy is not None and healthy.status_code == 200:
            break
        code, out, _ = await engine.call("inspect", "-f", "{{.State.Running}}", name)
        if out.strip() != "true":
            raise SmokeFailed("the container exited before /healthz answered")
        await asyncio.sleep(0.25)
    figures["healthz_after_s"] = round(time.monotonic() - started, 1)
    check(healthy is not None and healthy.status_code == 200,
          f"/healthz 200 after {figures['healthz_after_s']}s")
    await endpoint_checks(base)

    events = f"{base}/slack/events"
    async with SlackEventSender(values["slack-signing-secret"], events, state=state) as sender:
        verified = await sender.url_verification("smoke-challenge")
        check(verified.status_code == 200 and "smoke-challenge" in verified.response.text,
              "signed url_verification echoes the challenge")
        async with SlackEventSender("not-the-secret", events, state=state) as forger:
            forged = await forger.url_verification("x")
        check(forged.status_code in (401, 403), f"a wrongly signed request: {forged.status_code}")
        sent, before = time.monotonic(), len(state.messages_to(ADA))
        delivery = await sender.dm(ADA, "when does my password expire?")
        check(delivery.status_code == 200 and delivery.acked_in_time,
              f"signed DM event acknowledged in {delivery.elapsed * 1000:.0f} ms")
        reply = await state.wait_for_message(ADA, "password", after=before, timeout=30)
        took = (time.monotonic() - sent) * 1000
        check("expire" in reply.visible_text.lower(),
              f"the bot answered through the Slack fake in {took:.0f} ms")

    await asyncio.sleep(3)  # let the answer's work settle before reading memory
    _, out, _ = await engine.call("inspect", "-f", "{{.State.Pid}}", name)
    pid = int(out.strip())
    figures["idle_rss_mib"] = memory(pid)
    total = sum(figures["idle_rss_mib"].values())
    say(f"idle RSS after one conversation: {total:.1f} MiB ({figures['idle_rss_mib']})")

    code, out, err = await engine.call("healthcheck", "run", name)
    check(code == 0, f"the image's HEALTHCHECK passes {out.strip()}{err.strip()}")

    figures["stop_s"] = await stop_checks(engine, name, values)


async def endpoint_checks(base: str, after: str = "") -> None:
    """/readyz ready, /metrics with the documented names (and, ``after`` a DM, its ack)."""
    ready = await get(f"{base}/readyz")
    check(ready is not None and ready.status_code == 200,
          f"/readyz {'no answer' if ready is None else ready.status_code}"
          f"{'' if ready is None else ' ' + ready.text}")
    answer = await get(f"{base}/metrics")
    check(answer is not None and answer.status_code == 200 and "helpdesk_acks_total" in answer.text,
          f"/metrics lists the helpdesk_ metrics{after}")
    if after and answer is not None:
        lines = answer.text.splitlines()
        acked = [line for line in lines if line.startswith("helpdesk_acks_total")]
        check(bool(acked) and float(acked[0].split()[-1]) >= 1, f"/metrics counted the ack{after}")


async def stop_checks(engine: Engine, name: str, values: dict[str, str]) -> float:
    """SIGTERM: exit 0, 'stopped' logged, no secret in the log; seconds it took."""
    stopping = time.monotonic()
    await engine.call("stop", "-t", "40", name, limit=60)
    _, out, _ = await engine.call("inspect", "-f", "{{.State.ExitCode}}", name)
    took = round(time.monotonic() - stopping, 1)
    check(out.strip() == "0", f"SIGTERM: exit 0 in {took}s")
    _, out, err = await engine.call("logs", name)
    log = out + err
    check('"stopped"' in log, "the log ends with 'stopped'")
    leaked = [k for k, v in values.items() if v and v in log]
    check(not leaked, "no secret value in the log")
    return took


async def socket_checks(
    engine: Engine, name: str, link: Any, state: SlackState, values: dict[str, str],
    figures: dict[str, Any], base: str,
) -> None:
    try:
        await link.wait_connected(limit=120)
    except TimeoutError:
        raise SmokeFailed("no Socket Mode connection within 120 s") from None
    say("ok   the bot opened its Socket Mode connection")
    transport = SocketModeTransport(link)
    async with SlackEventSender(values["slack-signing-secret"], "http://socket-mode.invalid/",
                                state=state, transport=transport) as sender:
        sent, before = time.monotonic(), len(state.messages_to(ADA))
        delivery = await sender.dm(ADA, "when does my password expire?")
        check(delivery.status_code == 200 and delivery.acked_in_time,
              f"a DM envelope acknowledged in {delivery.elapsed * 1000:.0f} ms")
        reply = await state.wait_for_message(ADA, "password", after=before, timeout=30)
        took = (time.monotonic() - sent) * 1000
        check("expire" in reply.visible_text.lower(),
              f"the bot answered over Socket Mode in {took:.0f} ms")
    await endpoint_checks(base, after=" (Socket Mode, after a DM)")
    await asyncio.sleep(2)
    _, out, _ = await engine.call("inspect", "-f", "{{.State.Pid}}", name)
    figures["socket_mode_idle_rss_mib"] = memory(int(out.strip()))
    figures["socket_mode_stop_s"] = await stop_checks(engine, name, values)

async def cleanup(engine: Engine, name: str, keep: bool) -> None:
    if not keep:
        await engine.call("rm", "-f", name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--engine", default="podman", help="the engine command, with flags")
    parser.add_argument("--run-flags", default="", help="flags for every `run`")
    parser.add_argument("--keep", action="store_true", help="keep the container")
    args = parser.parse_args(argv)
    try:
        figures = asyncio.run(smoke(args))
    except SmokeFailed as exc:
        print(f"image-smoke FAILED: {exc}", file=sys.stderr)
        return 1
    print(yaml.safe_dump({"image_smoke": figures}, sort_keys=False).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
