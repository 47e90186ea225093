"""The WSGI application gunicorn serves: `gunicorn --chdir bench/peer peerproject.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproject.settings")
application = get_wsgi_application()
