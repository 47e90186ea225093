"""The integrator HTTP API under /v1 (JSON, OpenAPI, idempotency, feed, webhooks)."""
