"""What the employee is shown while the bot verifies them: the push and its number."""

from __future__ import annotations

from bot.replies import Reply
from connectors.base import PushChallenge


def push_prompt(challenge: PushChallenge, label: str) -> Reply:
    """The DM sent with a push: which device, and the number to pick there."""
    device = f"{label} Verify" if label in {"Okta"} else label
    if challenge.number is not None:
        return Reply(
            f"Before I change anything I need to check it's you: I sent a push to {device} "
            f"on your phone. Open it and pick *{challenge.number}*. If you didn't ask for "
            "this, deny it and the security team will be told."
        )
    return Reply(
        f"Before I change anything I need to check it's you: I sent a push to {device} on "
        "your phone. Approve it there. If you didn't ask for this, deny it."
    )


__all__ = ["push_prompt"]
