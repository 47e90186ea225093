"""The domain core: money, ledger, milestone machine, contracts, timers, events, persistence.

It imports neither Flask nor anything from `web/`.
"""
