"""Policies as data: YAML documents, their schema, and the loader that reports line numbers."""
