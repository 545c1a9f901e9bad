"""1,000 access requests approved by concurrent clicks across two bot replicas on PostgreSQL.

The bot runs as two processes (`helpdesk run`), as deployed, sharing one
PostgreSQL database; Slack is the local fake and the directory the Okta sandbox
(over HTTPS, through the real Okta connector), both in this process. First the
requests are made through the access workflow itself (not timed). Then every
request's approval message is clicked by both approvers at once, one on each
replica, and a quarter of the requests also get a double click and a
redelivered click, to the other replica. The sandbox's exchange hook timestamps
every membership PUT, in the same clock as the clicks.

Setup (the requests and their 2,000 approval cards) runs with the Slack fake's
limits off; the measured window starts with them on (Slack's published tiers, or
none with ``--limits unlimited``) and full buckets. Each replica gets its share of
the workspace's budgets (``slack.rate_limit_factor`` = 1 / replicas).

Reported: decisions per second (requests from first click to group add, over
the wall time), click-to-group-add p50/p99 and its stages (the click recorded by an
ingress, the deciding vote, the add), click ack p99, the Slack calls (and 429s)
of the window, and duplicate adds (PUTs beyond one per request, and grant audit
records beyond one): must be 0.

    python bench/approvals_bench.py [--requests 1000] [--replicas 2] [--concurrency 32]
                                    [--limits published|unlimited]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actions.access import AccessService, RequestState  # noqa: E402
from actions.audit import Actor  # noqa: E402
from actions.providers import Providers  # noqa: E402
from bench.load import RawPoster, cpu_s, percentile  # noqa: E402
from bot.configuration import validate_config  # noqa: E402
from bot.slack.app import SlackNotifier, SlackPeople  # noqa: E402
from config.logging import configure_logging  # noqa: E402
from sandboxes.okta import DEMO_SEED, DEMO_TOKEN, generate_users, load_seed  # noqa: E402
from sandboxes.okta.exchange import RecordedRequest, RecordedResponse  # noqa: E402
from sandboxes.okta.ratelimit import RateLimitConfig  # noqa: E402
from sandboxes.okta.server import OktaSandboxThread  # noqa: E402
from sandboxes.slack import (  # noqa: E402
    Message,
    RateLimits,
    SlackEventSender,
    SlackState,
    Workspace,
    run_slack_fake_in_thread,
)
from store.db import Store  # noqa: E402
from tests.access.replicas import running_replicas  # noqa: E402

SECRET = "approvals-bench-signing-secret-01"
ANNA, BERT = "U0ANNA0001", "U0BERT0001"
APPROVERS = "S0APPROVERS"
GROUP = "figma-editors"
PG_ADMIN = os.environ.get("HELPDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


class PutClock:
    """Called on the sandbox's thread for every exchange: when each membership PUT landed.

    ``waiting`` maps a directory user id to the future of the click that asked for it,
    resolved on the bench's loop when the PUT arrives.
    """

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.wall: dict[str, float] = {}  # the same moments on the wall clock (the database's)
        self.count: Counter[str] = Counter()
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, request: RecordedRequest, response: RecordedResponse) -> None:
        if request.method == "PUT" and request.path.startswith("/api/v1/groups/"):
            user_id = request.path.rsplit("/", 1)[-1]
            self.count[user_id] += 1
            self.first.setdefault(user_id, time.perf_counter())
            self.wall.setdefault(user_id, time.time())
            future = self.waiting.get(user_id)
            if future is not None and self.loop is not None:
                self.loop.call_soon_threadsafe(_resolve, future)


# The Slack fake's limits: Slack's published tiers unless `--limits unlimited` asks for none
# (a figure measured without them hides exactly the failures a workspace meets).
SLACK_TIERS: list[RateLimits] = [RateLimits.slack()]

def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    name = f"helpdesk_bench_{secrets.token_hex(4)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _postgres_missing() -> str | None:
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN}: {exc}"
    await conn.close()
    return None


def _workspace(emails: list[str]) -> Workspace:
    people = [{"id": ANNA, "name": "anna", "profile": {"email": "anna@example.com"}},
              {"id": BERT, "name": "bert", "profile": {"email": "bert@example.com"}}]
    people += [
        {"id": f"U0R{i:07d}", "name": f"r{i}", "profile": {"email": email}}
        for i, email in enumerate(emails)
    ]
    return Workspace.from_dict(
        {
            "team": {"id": "T0BENCH001", "name": "Bench", "domain": "bench"},
            "users": people,
            "usergroups": [{"id": APPROVERS, "handle": "approvers", "users": [ANNA, BERT]}],
        }
    )


def _config(db_url: str, okta_url: str, ca: Path, slack_url: str,
            replicas: int = 1) -> dict[str, Any]:
    return {
        "database_url": db_url,
        "log_level": "WARNING",
        "organisation": {"it_channel": "#it-help"},
        # Slack's budgets are the workspace's: each replica takes its share of them, as a
        # deployment of several replicas is configured (else together they earn 429s).
        "slack": {"api_base_url": slack_url, "bot_token": {"env": "SLACK_BOT_TOKEN"},
                  "signing_secret": {"env": "SLACK_SIGNING_SECRET"},
                  "rate_limit_factor": 1 / replicas},
        "connectors": {"okta": {"kind": "okta", "org_url": okta_url, "ca_file": str(ca),
                                "api_token": {"env": "OKTA_API_TOKEN"}, "max_concurrency": 75}},
        "capabilities": {"groups": "okta"},
        "catalogue": [{"key": GROUP, "display_name": "Figma", "provider_group": GROUP,
                       "approvers": [APPROVERS]}],
        "access": {"poll_interval": "1s"},
    }


async def _make_requests(
    raw: dict[str, Any], environ: dict[str, str], slack_url: str, token: str,
    requesters: list[tuple[str, str]], concurrency: int,
) -> float:
    """Every requester asks for the group through the access workflow; returns seconds taken."""
    cfg = validate_config(raw, "bench", environ)
    store = await Store.open(cfg.database_url)
    providers = Providers.from_config(cfg, environ)
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token=token, base_url=slack_url, session=session)
        service = AccessService(cfg, providers, store, SlackNotifier(client, None),
                                SlackPeople(client))
        slots = asyncio.Semaphore(concurrency)

        async def one(uid: str, email: str) -> None:
            async with slots:
                sub = await service.submit(Actor(uid, email), GROUP)
                assert sub.created and sub.snapshot.request.state == RequestState.PENDING

        started = time.perf_counter()
        await asyncio.gather(*(one(uid, email) for uid, email in requesters))
        took = time.perf_counter() - started
    await providers.aclose()
    await store.close()
    return took


def _request_of(card: Message) -> str:
    for block in card.blocks or []:
        for element in block.get("elements", []):
            if element.get("action_id", "").startswith("hd_access_approve"):
                return str(element["value"])
    raise LookupError("no Approve button")


async def _query(db_url: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(db_url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


class Clicks:
    """Sends every request's clicks and remembers when each request was first clicked.

    Closed loop: ``concurrency`` requests are being decided at any time, each slot
    freed when its group add lands, so the latency measured is the service's,
    not a queue the bench built up.
    """

    def __init__(self, senders: list[SlackEventSender], cards: dict[str, dict[str, Message]],
                 concurrency: int, puts: PutClock, user_of: dict[str, str]) -> None:
        self.senders = senders
        self.cards = cards
        self.puts = puts
        self.user_of = user_of
        self.slots = asyncio.Semaphore(concurrency)
        self.first: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.acks: list[float] = []
        self.sent = 0
        self.duplicates = 0

    async def decide(self, n: int, request_id: str) -> None:
        k = len(self.senders)
        # Both approvers at once, each on a different replica.
        plan = [(ANNA, self.senders[n % k]), (BERT, self.senders[(n + 1) % k])]
        if n % 4 == 0:
            # A double click on the other replica, and Slack redelivering the other click.
            plan += [(ANNA, self.senders[(n + 1) % k]), (BERT, self.senders[n % k])]
            self.duplicates += 2
        async with self.slots:
            added = asyncio.get_running_loop().create_future()
            self.puts.waiting[self.user_of[request_id]] = added
            self.first[request_id] = time.perf_counter()
            self.wall[request_id] = time.time()
            sent = await asyncio.gather(*(
                s.block_action(who, "hd_access_approve.0", message=self.cards[who][request_id])
                for who, s in plan
            ))
            await asyncio.wait_for(added, 120)
        for d in sent:
            assert d.status_code == 200, d.status_code
            self.acks.append(d.elapsed)
        self.sent += len(sent)


async def main(requests: int, replicas: int, concurrency: int) -> dict[str, Any]:
    okta_state = load_seed(DEMO_SEED)
    before = len(okta_state.users)
    generate_users(requests, state=okta_state)
    emails = sorted(u.profile["email"] for u in list(okta_state.users.values())[before:])
    configure_logging("WARNING")
    puts = PutClock()
    puts.loop = asyncio.get_running_loop()
    slack_state = SlackState(_workspace(emails))
    requesters = [(f"U0R{i:07d}", email) for i, email in enumerate(emails)]
    with (
        OktaSandboxThread(okta_state, on_exchange=puts,
                          rate_limits=RateLimitConfig.uniform(10_000_000)) as okta,
        run_slack_fake_in_thread(slack_state, tiers=SLACK_TIERS[0]) as slack,
        tempfile.TemporaryDirectory(prefix="helpdesk-approvals-bench-") as tmp,
    ):
        async with fresh_database() as db_url:
            raw = _config(db_url, okta.url, okta.ca_path, slack.base_url, replicas)
            environ = {"SLACK_BOT_TOKEN": slack.token, "SLACK_SIGNING_SECRET": SECRET,
                       "OKTA_API_TOKEN": DEMO_TOKEN}
            # Setup (the requests and their approval cards) is not what is measured: the
            # fake's limits are off for it, and on again, with full buckets, for the clicks.
            tiers = SLACK_TIERS[0]
            published, tiers.rules = tiers.rules, {}
            setup_s = await _make_requests(raw, environ, slack.base_url, slack.token,
                                           requesters, concurrency)
            user_of = {
                r["id"]: r["directory_user_id"]
                for r in await _query(db_url, "SELECT id, directory_user_id FROM access_requests")
            }
            cards = {
                approver: {_request_of(m): m for m in slack_state.messages_to(approver)
                           if "Access request" in m.text}
                for approver in (ANNA, BERT)
            }
            ids = sorted(cards[ANNA])
            assert len(ids) == requests and set(cards[BERT]) == set(ids) == set(user_of)
            async with (
                running_replicas(replicas, raw, environ, Path(tmp)) as bots,
                RawPoster() as http,
            ):
                senders = [
                    SlackEventSender(SECRET, b.events_url, state=slack_state,
                                     client=http)  # type: ignore[arg-type]
                    for b in bots
                ]
                clicks = Clicks(senders, cards, concurrency, puts, user_of)
                tiers.rules = published
                slack_state.reset_recorder()
                cpu_before = {b.name: cpu_s(b.process.pid) for b in bots}
                cpu_bench = time.process_time()
                started = time.perf_counter()
                await asyncio.gather(*(clicks.decide(n, rid) for n, rid in enumerate(ids)))
                wall = max(puts.first.values()) - started
                cpu = {b.name: round(cpu_s(b.process.pid) - cpu_before[b.name], 1)
                       for b in bots}
                cpu["bench+fakes"] = round(time.process_time() - cpu_bench, 1)
                # What the window cost in Slack (calls per method, 429s, response_url posts).
                in_window = slack_state.calls()
                slack_calls = dict(sorted(Counter(c.method for c in in_window).items()))
                throttled = dict(sorted(Counter(c.method for c in in_window
                                                if c.status == 429).items()))
                responses = len(slack_state.response_posts())
                await asyncio.sleep(1.0)  # let late duplicates land, if there were any
                errors = [
                    line[:300] for b in bots
                    for line in b.log.read_text(errors="replace").splitlines()
                    if '"level": "error"' in line
                ]
                for line in errors[:5]:
                    print(line, file=sys.stderr)
            grants = await _query(
                db_url,
                "SELECT count(*) AS n FROM audit_records WHERE action = 'access_grant' "
                "AND result = 'success'",
            )
            states = await _query(
                db_url, "SELECT state, count(*) AS n FROM access_requests GROUP BY state"
            )
            decided = {
                r["request_id"]: r["at"].timestamp()
                for r in await _query(db_url, "SELECT request_id, min(at) AS at "
                                              "FROM access_decisions GROUP BY request_id")
            }
            recorded: dict[str, float] = {}
            for r in await _query(db_url, "SELECT payload, received_at FROM inbox_events "
                                          "WHERE kind = 'action'"):
                rid = str(json.loads(r["payload"])["actions"][0]["value"])
                at = r["received_at"].timestamp()
                recorded[rid] = min(at, recorded.get(rid, at))
    latencies = [puts.first[user_of[rid]] - clicks.first[rid] for rid in ids]
    # Where the time goes, per request (wall clock, ms): the click recorded by an
    # ingress, the deciding vote's time (taken as the decision starts, after the click
    # was claimed from the inbox, identified and authorised), and the group add's PUT.
    stages = {
        "click_to_recorded": [recorded[r] - clicks.wall[r] for r in ids if r in recorded],
        "recorded_to_decision": [decided[r] - recorded[r] for r in ids
                                 if r in decided and r in recorded],
        "decision_to_add": [puts.wall[user_of[r]] - decided[r] for r in ids if r in decided],
    }
    granted = int(grants[0]["n"])
    return {
        "bench": "access_approvals",
        "requests": requests,
        "replicas": replicas,
        "clicks": clicks.sent,
        "duplicate_clicks": clicks.duplicates,
        "setup_requests_s": round(setup_s, 1),
        "decisions_per_s": round(requests / wall, 1),
        "wall_s": round(wall, 2),
        "click_to_add_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "click_to_add_ms_p99": round(percentile(latencies, 99) * 1000, 1),
        "stages_ms_p50_p99": {
            name: [round(statistics.median(v) * 1000, 1), round(percentile(v, 99) * 1000, 1)]
            for name, v in stages.items() if v
        },
        "click_ack_ms_p50": round(statistics.median(clicks.acks) * 1000, 1),
        "click_ack_ms_p99": round(percentile(clicks.acks, 99) * 1000, 1),
        "groups_added": len(puts.first),
        "duplicate_adds": sum(c - 1 for c in puts.count.values()) + max(0, granted - requests),
        "grant_audit_records": granted,
        "request_states": {r["state"]: int(r["n"]) for r in states},
        "slack_calls_in_window": slack_calls,
        "slack_429s_in_window": throttled,
        "response_url_posts_in_window": responses,
        "cpu_s": cpu,
        "bot_log_errors": len(errors),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--limits", choices=("published", "unlimited"), default="published",
                        help="the Slack fake's rate limits (default: Slack's published tiers)")
    args = parser.parse_args()
    if args.limits == "unlimited":
        SLACK_TIERS[0] = RateLimits.unlimited()
    missing = asyncio.run(_postgres_missing())
    if missing:
        # `make bench` runs every benchmark; without PostgreSQL this one can't mean anything.
        print(json.dumps({"bench": "access_approvals", "skipped": missing}))
    else:
        print(json.dumps(asyncio.run(main(args.requests, args.replicas, args.concurrency))))
