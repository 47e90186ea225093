"""The pure domain: money, actors, errors, the decision, ledger legs, summary figures.

Imports no database and no web framework: the engine's store and service build on it.
"""
