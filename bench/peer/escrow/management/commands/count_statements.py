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

import collections
import json
import secrets

from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client


class Command(BaseCommand):
    def add_arguments(self, parser) -> None:
        parser.add_argument("--key", required=True)
        parser.add_argument("--lifecycles", type=int, default=50)

    def handle(self, *args, key: str, lifecycles: int, **options) -> None:
        http = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        counts = {"transitions": collections.Counter(), "creations": collections.Counter()}
        counting: list[collections.Counter] = []

        def count(execute, sql, params, many, context):
            if counting:
                counting[0][" ".join(sql.split()[:3])[:60]] += 1
            return execute(sql, params, many, context)

        def lifecycle(n: int, into: dict | None) -> None:
            contract = {
                "buyer_id": f"b{n}",
                "provider_id": f"p{n}",
                "currency": "USD",
                "agreed_amount": 10_000,
                "title": "count",
                "milestones": [{"title": "m", "amount": 10_000}],
            }
            counting[:] = [into["creations"]] if into else []
            created = http.post("/v1/contracts", contract, content_type="application/json")
            assert created.status_code == 201, created.content
            milestone = created.json()["milestones"][0]["id"]
            counting[:] = [into["transitions"]] if into else []
            for event, actor in (("fund", f"b{n}"), ("submit", f"p{n}"), ("approve", f"b{n}")):
                answer = http.post(
                    f"/v1/milestones/{milestone}/events/{event}",
                    {},
                    content_type="application/json",
                    headers={"Tranche-Actor": actor, "Idempotency-Key": secrets.token_hex(8)},
                )
                assert answer.status_code == 200, answer.content
            counting.clear()

        with connection.execute_wrapper(count):
            for n in range(5):  # warm: the key cache, the chart of accounts
                lifecycle(n, None)
            for n in range(lifecycles):
                lifecycle(n, counts)
        per = {"transitions": 3 * lifecycles, "creations": lifecycles}
        report: dict = {
            name: {k: v / per[name] for k, v in c.items()} for name, c in counts.items()
        }
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            report["prepared"] = cursor.fetchone()[0]
        self.stdout.write(json.dumps(report))
