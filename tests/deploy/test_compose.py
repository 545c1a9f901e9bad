"""compose.yaml: valid Compose, PostgreSQL and two replicas behind one port, secrets as files."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import jsonschema
import yaml

from bot.configuration import validate_config
from tests.deploy.artifacts import ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
CONFIG = ROOT / "deploy" / "compose" / "helpdesk.yaml"


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    # The schema check-jsonschema ships (vendor/compose-spec.json): offline.
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(COMPOSE), key=str)
    assert not errors, [f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_two_replicas_behind_one_published_port() -> None:
    assert set(SERVICES) == {"postgres", "migrate", "bot", "proxy"}
    assert SERVICES["bot"]["deploy"]["replicas"] == 2
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert published == {"proxy": ["3000:3000"]}
    haproxy = (ROOT / "deploy" / "compose" / "haproxy.cfg").read_text()
    port = yaml.safe_load(CONFIG.read_text())["slack"]["port"]
    assert re.search(rf"^\s*server-template bot \d+ bot:{port} check$", haproxy, re.M)
    assert "option httpchk GET /healthz" in haproxy


def test_postgres_keeps_its_data_in_a_named_volume() -> None:
    postgres = SERVICES["postgres"]
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"]
    assert "pgdata" in COMPOSE["volumes"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/database_password"


def test_migrations_run_once_before_the_replicas() -> None:
    assert SERVICES["migrate"]["command"] == ["migrate"]
    assert SERVICES["bot"]["command"] == ["run"]
    assert SERVICES["bot"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_secrets_are_files_and_the_configuration_reads_them() -> None:
    declared = COMPOSE["secrets"]
    assert all(s["file"] == f"./secrets/{name}" for name, s in declared.items())
    bot = SERVICES["bot"]
    assert set(bot["secrets"]) == set(declared)
    for name in bot["environment"]:
        assert not re.search(r"TOKEN|SECRET|PASSWORD", name) or name.endswith("_FILE"), name
    raw = yaml.safe_load(CONFIG.read_text())
    validate_config(raw, str(CONFIG), environ={})
    refs = re.findall(r"\{file: /run/secrets/([a-z_]+)\}", CONFIG.read_text())
    refs.append(bot["environment"]["DATABASE_PASSWORD_FILE"].removeprefix("/run/secrets/"))
    assert set(refs) == set(bot["secrets"])
    (config,) = bot["configs"]
    assert config["target"] == bot["environment"]["HELPDESK_CONFIG"]
    assert COMPOSE["configs"][config["source"]]["file"] == "./deploy/compose/helpdesk.yaml"


def test_the_secrets_script_writes_what_compose_reads_and_git_ignores_them() -> None:
    script = (ROOT / "scripts" / "compose-secrets.sh").read_text()
    assert set(re.findall(r"^write (\w+) ", script, re.M)) == set(COMPOSE["secrets"])
    assert "secrets/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_bots_are_hardened() -> None:
    bot = SERVICES["bot"]
    assert bot["read_only"] is True and bot["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in bot["security_opt"]
    assert bot["build"] == "." and bot["image"].startswith("helpdesk-bot:")
