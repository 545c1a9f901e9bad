"""The Okta SDK client the connector needs: the SDK's own API classes, only those it calls.

``okta.client.Client`` inherits every API class of the SDK (over a hundred), and
importing it imports each one's models: about 100 MiB and two seconds of start-up in
every bot process, for the ten operations the connector uses. :class:`DirectoryClient`
is built the way ``Client`` builds itself (the SDK's configuration setter and
validator, its request executor from ``requestExecutor``), from the API classes below
only, so the typed methods, their models and their requests are the SDK's own.

Adding a typed call means adding its API class here (``tests/okta`` fails on a method
the connector calls that this client lacks).
"""

from __future__ import annotations

from typing import Any

from okta.api.group_api import GroupApi
from okta.api.role_assignment_a_user_api import RoleAssignmentAUserApi
from okta.api.user_cred_api import UserCredApi
from okta.api.user_factor_api import UserFactorApi
from okta.api.user_lifecycle_api import UserLifecycleApi
from okta.api.user_resources_api import UserResourcesApi
from okta.cache.no_op_cache import NoOpCache
from okta.config.config_setter import ConfigSetter
from okta.config.config_validator import ConfigValidator

#: What the connector calls, by API class (the SDK's names).
OPERATIONS: dict[type, tuple[str, ...]] = {
    GroupApi: ("get_group", "assign_user_to_group", "unassign_user_from_group"),
    RoleAssignmentAUserApi: ("list_assigned_roles_for_user",),
    UserCredApi: ("reset_password",),
    UserFactorApi: ("list_factors", "unenroll_factor"),
    UserLifecycleApi: ("unlock_user", "reset_factors"),
    UserResourcesApi: ("list_user_groups",),
}


class DirectoryClient(
    GroupApi,
    RoleAssignmentAUserApi,
    UserCredApi,
    UserFactorApi,
    UserLifecycleApi,
    UserResourcesApi,
):
    """The SDK's typed methods for groups, roles, credentials, factors and lifecycle.

    ``user_config`` is the SDK's client configuration (``orgUrl``, ``authorizationMode``,
    ``token`` or ``clientId``/``scopes``/``privateKey``, ...) and must name a
    ``requestExecutor`` factory: every request goes through it. As with the SDK's
    ``Client``, keys not given are filled from ``OKTA_CLIENT_*`` variables and
    ``okta.yaml`` files, and the result is validated (``ValueError`` on a bad org URL,
    a missing token, ...).
    """

    def __init__(self, user_config: dict[str, Any]) -> None:
        setter = ConfigSetter()  # type: ignore[no-untyped-call]
        setter._apply_config({"client": user_config})
        config = setter._prune_config(setter.get_config())  # type: ignore[no-untyped-call]
        ConfigValidator(config)  # type: ignore[no-untyped-call]
        super().__init__(configuration=config)
        self._config = config
        # The connector's executor caches nothing and brings its own HTTP client.
        self._request_executor = user_config["requestExecutor"](
            config, NoOpCache(), None  # type: ignore[no-untyped-call]
        )

    def get_request_executor(self) -> Any:
        """The request executor every typed method sends through."""
        return self._request_executor
