"""Check recorded Okta API exchanges against Okta's own OpenAPI document.

``OktaContract.validate(exchange)`` validates the request (path, query, body) and the
response (status, declared headers, body) of one :class:`sandboxes.okta.Exchange`
with openapi-core, and raises :class:`ContractViolation` naming every problem.

The spec (tests/specs/okta/management-minimal.yaml, 3.4 MB) is parsed once per file
content and kept as a pickle under ``$XDG_CACHE_HOME/helpdesk-okta-spec`` (or
``~/.cache/...``), keyed by the file's SHA-256, so later runs load it in milliseconds.

Two places where the spec and Okta's real behaviour differ are handled narrowly:

* Okta answers 401 ``E0000011`` (bad token), 400 (bad search), 404 ``E0000008``
  (unknown path), 405, 500 and 503 on any operation, but most operations don't declare
  those statuses. An undeclared status from that set must carry a body valid against
  the spec's ``Error`` schema.
* Lifecycle operations and membership changes declare ``content: {}``, meaning "no
  body", which openapi-core reads as "a body of no allowed type". Okta answers them
  with an empty JSON object (200, "Returns an empty object",
  https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/)
  or nothing (204); exactly those two are accepted.

* ``POST .../factors/{factorId}/verify`` takes a ``UserFactorVerifyRequest``, a ``oneOf``
  whose branches require no property, so every body is valid under several of them and
  fails the ``oneOf`` (the spec's own example ``NumberMatchingChallengeRequest``,
  ``{"useNumberMatchingChallenge": true}``, included). Only that "valid under each of"
  failure is set aside, and the body must then be valid under one named branch with no
  property that branch lacks (the bot sends the ``push`` branch).

On top of the spec, every error body must have all five fields of Okta's error object
(the spec lists them without requiring them, Okta always sends them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.testing import MockResponse
from openapi_core.validation.schemas import oas30_read_schema_validators_factory
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sandboxes.okta import Exchange, RecordedRequest, RecordedResponse

SPEC_PATH = Path(__file__).resolve().parents[1] / "specs" / "okta" / "management-minimal.yaml"
# Statuses Okta may answer on any operation, whether or not the spec declares them.
OKTA_ANYWHERE_STATUSES = frozenset({400, 401, 403, 404, 405, 429, 500, 503})
ERROR_FIELDS = ("errorCode", "errorSummary", "errorLink", "errorId", "errorCauses")


_VERIFY_PATH = re.compile(r"/api/v1/users/[^/]+/factors/[^/]+/verify")


class ContractViolation(AssertionError):
    """An exchange does not match Okta's OpenAPI document."""


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "helpdesk-okta-spec"


def load_spec_dict(path: Path = SPEC_PATH) -> dict[str, Any]:
    """Return the parsed spec, from the pickle cache when the file is unchanged."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    cached = _cache_dir() / f"{digest}.pickle"
    if cached.exists():
        with cached.open("rb") as handle:
            spec: dict[str, Any] = pickle.load(handle)
            return spec
    spec = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        pickle.dump(spec, handle, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(cached)
    return spec


@functools.cache
def okta_contract() -> OktaContract:
    """Return the process-wide contract (the spec is loaded once)."""
    return OktaContract(load_spec_dict())


class OktaContract:
    """Validates exchanges against one OpenAPI document."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._spec = spec
        # Spec validation of a 3.4 MB document is slow and not what is being tested.
        self._api = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        self._templates = _compile_templates(spec["paths"])
        schema_path = SchemaPath.from_dict(spec)
        self._error_schema = oas30_read_schema_validators_factory.create(
            schema_path, schema_path / "components" / "schemas" / "Error"
        )
        verify = spec["components"]["schemas"]["UserFactorVerifyRequest"]["oneOf"]
        branches = schema_path / "components" / "schemas" / "UserFactorVerifyRequest" / "oneOf"
        self._verify_branches = [
            (set(branch.get("properties", {})), oas30_read_schema_validators_factory.create(
                schema_path, branches / index))
            for index, branch in enumerate(verify)
        ]

    def validate(self, exchange: Exchange, *, check_request: bool = True) -> None:
        """Raise :class:`ContractViolation` unless the exchange matches the spec.

        ``check_request=False`` skips the request, for tests that send invalid
        requests on purpose and only check how the sandbox answers.
        """
        problems = []
        if check_request:
            problems += self.request_problems(exchange.request)
        problems += self.response_problems(exchange.request, exchange.response)
        if problems:
            request, response = exchange.request, exchange.response
            lines = "\n  - ".join(problems)
            raise ContractViolation(
                f"{request.method} {request.url} -> {response.status} breaks the Okta spec:\n"
                f"  - {lines}\n  body: {response.body[:500]!r}"
            )

    def request_problems(self, request: RecordedRequest) -> list[str]:
        """Return what is wrong with the request (path, parameters, body)."""
        with warnings.catch_warnings():
            # openapi-core cannot evaluate the spec's oauth2 scheme and says so each call.
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            errors = list(self._api.iter_request_errors(_mock_request(request)))
        if request.method == "POST" and _VERIFY_PATH.fullmatch(request.path):
            errors = [e for e in errors if "is valid under each of" not in _describe(e)]
            if request.body and not self._one_verify_branch(request.body):
                return [f"verify body matches no single UserFactorVerifyRequest branch: "
                        f"{request.body[:200]!r}", *map(_describe, errors)]
        return [_describe(e) for e in errors]

    def _one_verify_branch(self, body: bytes) -> bool:
        """Whether ``body`` is valid under one branch, with only that branch's properties."""
        try:
            value = json.loads(body)
        except ValueError:
            return False
        if not isinstance(value, dict):
            return False
        for properties, validator in self._verify_branches:
            if not set(value) <= properties:
                continue
            try:
                validator.validate(value)
            except Exception:  # the validator raises its own error tree
                continue
            return True
        return False

    def response_problems(self, request: RecordedRequest, response: RecordedResponse) -> list[str]:
        """Return what is wrong with the response, given the request it answers."""
        problems: list[str] = []
        if response.status >= 400:
            problems += self._error_shape_problems(response)
        declared = self._declared_response(request.method, request.path, response.status)
        if declared is None:
            if response.status not in OKTA_ANYWHERE_STATUSES:
                problems.append(f"status {response.status} is not declared for this operation")
            return problems
        if declared.get("content") == {}:
            if response.body.strip() not in (b"", b"{}"):
                problems.append("the spec declares no content, but the body is not empty or {}")
            return problems
        mock_response = MockResponse(
            response.body,
            status_code=response.status,
            headers=dict(response.headers),
            content_type=(response.header("content-type") or "").lower(),
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            errors = self._api.iter_response_errors(_mock_request(request), mock_response)
            problems += [_describe(e) for e in errors]
        return problems

    def _error_shape_problems(self, response: RecordedResponse) -> list[str]:
        try:
            body = json.loads(response.body)
        except ValueError:
            return ["an error response must have a JSON body"]
        missing = [name for name in ERROR_FIELDS if not isinstance(body, dict) or name not in body]
        problems = [f"error body lacks {', '.join(missing)}"] if missing else []
        try:
            self._error_schema.validate(body)
        except Exception as exc:  # the validator raises its own error tree
            problems.append(f"error body is not an Error: {_describe(exc)}")
        return problems

    def _declared_response(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        template = self._match_template(path)
        if template is None:
            return None
        operation = self._spec["paths"][template].get(method.lower())
        if operation is None:
            return None
        responses = operation.get("responses", {})
        declared = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        if declared is None:
            return None
        return self._resolve(declared)

    def _match_template(self, path: str) -> str | None:
        for pattern, template in self._templates:
            if pattern.fullmatch(path):
                return template
        return None

    def _resolve(self, node: Mapping[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self._spec
            for part in str(node["$ref"]).lstrip("#/").split("/"):
                target = target[part]
            node = target
        return dict(node)


def _compile_templates(paths: Iterable[str]) -> list[tuple[re.Pattern[str], str]]:
    """Path templates as regexes, literal segments first (``/users/me`` before ``{id}``)."""
    compiled = []
    for template in paths:
        regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        literal_segments = sum(1 for part in template.split("/") if part and "{" not in part)
        compiled.append((literal_segments, re.compile(regex), template))
    compiled.sort(key=lambda item: -item[0])
    return [(pattern, template) for _, pattern, template in compiled]


@dataclass
class _SpecRequest:
    """A recorded request in the shape openapi-core's ``Request`` protocol asks for."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


def _mock_request(request: RecordedRequest) -> _SpecRequest:
    scheme, _, rest = request.url.partition("://")
    host = rest.split("/", 1)[0]
    return _SpecRequest(
        host_url=f"{scheme}://{host}",
        path=request.path,
        method=request.method.lower(),
        body=request.body or None,
        content_type=(request.header("content-type") or "application/json").lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict(list(request.query)),
            header=Headers(list(request.headers)),
            cookie=ImmutableMultiDict(),
        ),
    )


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    schema_errors = getattr(error, "schema_errors", None) or []
    details = "; ".join(getattr(e, "message", str(e)) for e in schema_errors)
    cause = error.__cause__
    if not details and cause is not None:
        details = _describe(cause)
    return f"{text} ({details})" if details else text
