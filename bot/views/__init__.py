"""Pure builders: replies and forms as Block Kit, the App Home, access wording, nudges.

Nothing here calls Slack or the store; tests call these functions directly.
"""
