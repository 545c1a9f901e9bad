"""One dialogue per flow family, routed by ``bot.conversation.Conversation``.

``self_service`` (reset, MFA reset, unlock), ``expiry``, ``access`` (group
access); ``common`` holds what they share and ``failures`` the one answer to an
unexpected failure.
"""
