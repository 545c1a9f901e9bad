"""The durable outbox: outcome messages written to the store first, sent until Slack has them.

``message`` (what is stored), ``sealing`` (its secret parts, encrypted), ``sender`` (the
worker that sends them, checks what Slack already shows after a crash, and gives up,
audited, when they expire). The rows are jobs of kind ``outbox`` (``store.outbox``).
"""
