"""Storage: tables, statements, dialect branches, triggers, migrations, the SQLite queue.

Applies what the domain decided; every storage trick lives here.
"""
