"""Group access requests, free of Slack (see :mod:`actions.access.service`).

Modules: ``model`` (states, the transition table, job kinds, results), ``policy``
(who approves, how many), ``service`` (the workflow), ``jobs`` (the durable jobs),
``ports`` (the notifier and people directory), with ``targets``, ``trail`` and
``notices`` as their parts. The names other code uses are exported here.
"""

from actions.access.model import (
    TRANSITIONS,
    AccessSnapshot,
    Action,
    ApproverKind,
    Decision,
    DecisionOutcome,
    Event,
    JobKind,
    Prepared,
    RequestState,
    Submitted,
    Transition,
    allows,
    is_request_id,
)
from actions.access.policy import ApprovalPolicy, Approvers
from actions.access.ports import (
    AccessNotifier,
    MessageRef,
    NullAccessNotifier,
    PeopleDirectory,
    StaticPeople,
)
from actions.access.service import AccessService
from actions.errors import Refusal

__all__ = [
    "TRANSITIONS",
    "AccessNotifier",
    "AccessService",
    "AccessSnapshot",
    "Action",
    "ApprovalPolicy",
    "ApproverKind",
    "Approvers",
    "Decision",
    "DecisionOutcome",
    "Event",
    "JobKind",
    "MessageRef",
    "NullAccessNotifier",
    "PeopleDirectory",
    "Prepared",
    "Refusal",
    "RequestState",
    "StaticPeople",
    "Submitted",
    "Transition",
    "allows",
    "is_request_id",
]
