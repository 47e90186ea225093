"""Hosted pages for buyers and providers, their integrator API, and notice mail.

`views` serves /p/<token> (read, confirm, act, live); `api` mints links and reads
notices under /v1; `mail` sends the notice outbox over SMTP (`tranche notices send`).
"""
