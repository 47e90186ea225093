"""The service layer: a unit of work per command (load and lock, decide, apply), the facade."""
