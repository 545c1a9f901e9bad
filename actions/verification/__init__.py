"""The verification step before a self-service change (push, approval or none), free of Slack.

``service`` holds the workflow (:class:`Verification`), ``ports`` what it needs from a
chat surface (:class:`PushPrompter`).
"""

from actions.verification.ports import PushPrompter
from actions.verification.service import (
    PUSH_ACTION,
    STEP_ACTION,
    ApprovalGate,
    Verification,
    Verified,
)

__all__ = [
    "PUSH_ACTION",
    "STEP_ACTION",
    "ApprovalGate",
    "PushPrompter",
    "Verification",
    "Verified",
]
