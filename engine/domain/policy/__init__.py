"""The policy language: documents, their schema and loader, the vetted vocabulary of guards and
effects, the compiled machine, and the checker that proves a policy safe before it is used.

Pure like the rest of the domain: `engine.domain.decision` interprets a policy for a command,
the checker explores one through that same `decide`, and the drawings and the diff read the
machine's arrows.
"""
