"""Django's command line for the peer (run with the peer's virtualenv, from this folder)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
