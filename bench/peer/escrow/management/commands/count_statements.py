"""`manage.py count_statements --key KEY`: SQL statements per request of a lifecycle.

Drives lifecycles (create a contract with its milestone, fund, submit, approve, each with an
Idempotency-Key) through Django's test client in this process, counting every statement
the app sends through Django's cursors (connection.execute_wrapper), by its first words.
BEGIN, COMMIT and the per-request connection health check go through psycopg directly and
are not counted (Tranche's count leaves out the same three). Prints JSON:
{"transitions": {kind: per transition}, "creations": {kind: per creation}, "prepared": n},
n being the server-side prepared statements the connection holds afterwards
(pg_prepared_statements): none unless PEER_PREPARE_THRESHOLD turned them on.
"""

import json

import counting
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client


class Command(BaseCommand):
    def add_arguments(self, parser) -> None:
        parser.add_argument("--key", required=True)
        parser.add_argument("--lifecycles", type=int, default=50)

    def handle(self, *args, key: str, lifecycles: int, **options) -> None:
        http = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        tally = counting.Tally()

        def count(execute, sql, params, many, context):
            tally.count(sql)
            return execute(sql, params, many, context)

        def post(path: str, body: dict, headers: dict[str, str]) -> tuple[int, object]:
            answer = http.post(path, body, content_type="application/json", headers=headers)
            return answer.status_code, answer.json()

        with connection.execute_wrapper(count):
            report: dict = tally.lifecycles(post, lifecycles)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            report["prepared"] = cursor.fetchone()[0]
        self.stdout.write(json.dumps(report))
