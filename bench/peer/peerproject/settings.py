"""Settings of the Django peer: one app (escrow) on PostgreSQL, nothing else.

PEER_DATABASE_URL names the database (postgresql://user@host:port/name).
PEER_PREPARE_THRESHOLD, if set, turns psycopg's server-side prepared statements on: Django's
default cursor binds parameters on the client and can never prepare (psycopg's ClientCursor),
so `server_side_binding` goes on with it.
"""

import os
from urllib.parse import urlsplit

_url = urlsplit(os.environ.get("PEER_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/peer"))
_options: dict[str, object] = {}
if os.environ.get("PEER_PREPARE_THRESHOLD"):
    _options = {
        "server_side_binding": True,
        "prepare_threshold": int(os.environ["PEER_PREPARE_THRESHOLD"]),
    }

SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "peer-benchmark-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "peerproject.urls"
WSGI_APPLICATION = "peerproject.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = ["django.contrib.contenttypes", "mptt", "djmoney", "hordak", "escrow"]
# An API authenticated by key: no sessions, CSRF, users or messages.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
        # Persistent connections, as Tranche's pool keeps them; checked once per request
        # before use, as Tranche's pool pings a connection on checkout.
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": _options,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Ledger amounts in integer minor units, as Tranche's postings hold them.
HORDAK_DECIMAL_PLACES = 0
HORDAK_MAX_DIGITS = 20
DEFAULT_CURRENCY = "USD"
HORDAK_INTERNAL_CURRENCY = "USD"
