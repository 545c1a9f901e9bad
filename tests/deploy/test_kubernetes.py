"""The Kubernetes manifests: valid against the API schemas, and consistent with each other."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.configuration import validate_config
from tests.conftest import missing_server
from tests.deploy.artifacts import KUBERNETES, ROOT, manifests, mebibytes, one, secret_keys

# The oldest Kubernetes these manifests support, and the newest schemas the validator ships.
VERSIONS = ["1.29.0", "latest"]
VARIANTS = ["http", "socket-mode"]
MEASURED_PEAK_MIB = 250  # bot + HTTP ingress answering 500 simultaneous DMs (README, bench)


def _validator() -> Any:
    try:
        from kubernetes_validate import utils
    except ImportError:
        missing_server("kubernetes-validate not installed (the [dev] extra)")
    return utils


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_against_the_schemas(version: str) -> None:
    utils = _validator()
    version = utils.latest_version() if version == "latest" else version
    found = manifests()
    assert len(found) >= 9
    for path, doc in found:
        try:
            utils.validate(doc, version, strict=True)
        except utils.ValidationError as exc:
            pytest.fail(f"{path.relative_to(ROOT)} ({doc['kind']}), Kubernetes {version}: {exc}")


def test_secrets_are_referenced_never_inlined() -> None:
    for path, doc in manifests():
        assert doc["kind"] != "Secret", f"{path}: a Secret's values do not belong in git"
        text = path.read_text()
        assert not re.search(r"xox[bpa]-|xapp-|SSWS|BEGIN [A-Z ]*PRIVATE KEY", text), path


def _pod(folder: str) -> dict[str, Any]:
    spec: dict[str, Any] = one("Deployment", folder)["spec"]["template"]["spec"]
    return spec


def _container(folder: str) -> dict[str, Any]:
    container: dict[str, Any]
    (container,) = _pod(folder)["containers"]
    return container


def _config(folder: str) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(one("ConfigMap", folder)["data"]["helpdesk.yaml"])
    return raw


@pytest.mark.parametrize("folder", VARIANTS)
def test_two_replicas_rolled_one_at_a_time(folder: str) -> None:
    spec = one("Deployment", folder)["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pdb = one("PodDisruptionBudget", "common")["spec"]
    assert pdb["minAvailable"] < spec["replicas"]
    labels = spec["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert spec["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("folder", VARIANTS)
def test_probes_and_a_shutdown_long_enough_to_drain(folder: str) -> None:
    container = _container(folder)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [_config(folder)["slack"]["port"]]
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] in ports
        paths[probe] = get["path"]
    assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz",
                     "readinessProbe": "/readyz"}
    # /healthz waits up to 2 s for the work loop: the probe must wait longer.
    assert container["livenessProbe"]["timeoutSeconds"] > 2
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    # After the sleep: the ingress hands over what it acknowledged, drain() takes up to 10 s.
    grace = _pod(folder)["terminationGracePeriodSeconds"]
    assert grace >= int(command[1]) + 10 + 15
    annotations = one("Deployment", folder)["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) in ports.values()


@pytest.mark.parametrize("folder", VARIANTS)
def test_memory_from_the_measured_peak_with_headroom(folder: str) -> None:
    resources = _container(folder)["resources"]
    request = mebibytes(resources["requests"]["memory"])
    limit = mebibytes(resources["limits"]["memory"])
    assert request >= MEASURED_PEAK_MIB and limit >= 1.25 * request
    assert "cpu" in resources["requests"]


@pytest.mark.parametrize("folder", VARIANTS)
def test_hardened_and_non_root(folder: str) -> None:
    pod = _pod(folder)
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    for container in [*pod["initContainers"], *pod["containers"]]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
        assert context["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("folder", VARIANTS)
def test_migrations_run_before_the_bot_with_the_same_inputs(folder: str) -> None:
    pod = _pod(folder)
    (init,) = pod["initContainers"]
    container = _container(folder)
    assert init["args"] == ["migrate"] and container["args"] == ["run"]
    assert init["image"] == container["image"]
    assert init["env"] == container["env"] and init["volumeMounts"] == container["volumeMounts"]
    job = one("Job", "jobs")["spec"]["template"]["spec"]
    (migrate,) = job["containers"]
    assert migrate["args"] == ["migrate"] and migrate["env"] == container["env"]
    assert {m["mountPath"] for m in migrate["volumeMounts"]} <= {
        m["mountPath"] for m in container["volumeMounts"]
    }


@pytest.mark.parametrize("folder", VARIANTS)
def test_the_configuration_is_valid_and_reads_every_secret_from_the_secret(folder: str) -> None:
    raw = _config(folder)
    cfg = validate_config(raw, f"{folder}/configmap.yaml", environ={})
    assert cfg.database_url.startswith("postgresql://")
    assert (cfg.slack.app_token is not None) == (folder == "socket-mode")
    pod = _pod(folder)
    (secret_volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert secret_volume["secret"]["secretName"] == "helpdesk"
    (mount,) = [m for m in _container(folder)["volumeMounts"] if m["name"] == secret_volume["name"]]
    refs = re.findall(r"\{file: ([^}]+)\}", one("ConfigMap", folder)["data"]["helpdesk.yaml"])
    env = {e["name"]: e["value"] for e in _container(folder)["env"]}
    refs.append(env["DATABASE_PASSWORD_FILE"])
    keys = secret_keys() | {"slack-app-token"}
    for ref in refs:
        path = Path(ref)
        assert str(path.parent) == mount["mountPath"], ref
        assert path.name in keys, f"{ref}: not a key of the Secret docs/operations.md creates"
    config_mount = next(m for m in _container(folder)["volumeMounts"] if m["name"] == "config")
    assert env["HELPDESK_CONFIG"] == f"{config_mount['mountPath']}/helpdesk.yaml"


def test_http_mode_publishes_only_slack_events() -> None:
    pod_labels = one("Deployment", "http")["spec"]["template"]["metadata"]["labels"]
    service = one("Service", "http")["spec"]
    assert service["selector"].items() <= pod_labels.items()
    (port,) = service["ports"]
    assert port["targetPort"] in {p["name"] for p in _container("http")["ports"]}
    rules = one("Ingress", "http")["spec"]["rules"]
    paths = [p for rule in rules for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [(_config("http")["slack"]["path"],
                                                           "Exact")]
    assert all(p["backend"]["service"]["name"] == one("Service", "http")["metadata"]["name"]
               for p in paths)


def test_socket_mode_has_no_service() -> None:
    kinds = {doc["kind"] for _, doc in manifests("socket-mode")}
    assert kinds == {"ConfigMap", "Deployment"}


def test_the_two_variants_differ_only_where_the_mode_does() -> None:
    def shape(folder: str) -> str:
        text = (KUBERNETES / folder / "deployment.yaml").read_text()
        body = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
        return body.replace("name: ops", "name: http").replace("port: ops", "port: http")

    assert shape("http") == shape("socket-mode")
