"""Okta-shaped defaults for objects a seed describes only briefly (password policies)."""

from __future__ import annotations

from typing import Any


def password_settings(max_age_days: int, *, expire_warn_days: int = 0) -> dict[str, Any]:
    """Return password policy ``settings`` with the given password age, otherwise typical."""
    return {
        "password": {
            "complexity": {
                "minLength": 12,
                "minLowerCase": 1,
                "minUpperCase": 1,
                "minNumber": 1,
                "minSymbol": 0,
                "excludeUsername": True,
                "dictionary": {"common": {"exclude": True}},
                "excludeAttributes": [],
            },
            "age": {
                "maxAgeDays": max_age_days,
                "expireWarnDays": expire_warn_days,
                "minAgeMinutes": 0,
                "historyCount": 4,
            },
            "lockout": {
                "maxAttempts": 10,
                "autoUnlockMinutes": 0,
                "userLockoutNotificationChannels": [],
                "showLockoutFailures": False,
            },
        },
        "recovery": {
            "factors": {
                "okta_email": {
                    "status": "ACTIVE",
                    "properties": {"recoveryToken": {"tokenLifetimeMinutes": 60}},
                },
                "okta_sms": {"status": "INACTIVE"},
                "okta_call": {"status": "INACTIVE"},
            }
        },
        "delegation": {"options": {"skipUnlock": False}},
    }


PASSWORD_RULE_CONDITIONS: dict[str, Any] = {
    "people": {"users": {"exclude": []}},
    "network": {"connection": "ANYWHERE"},
}

PASSWORD_RULE_ACTIONS: dict[str, Any] = {
    "passwordChange": {"access": "ALLOW"},
    "selfServicePasswordReset": {
        "access": "ALLOW",
        "requirement": {"primary": {"methods": ["email"]}, "stepUp": {"required": False}},
    },
    "selfServiceUnlock": {"access": "DENY"},
}
