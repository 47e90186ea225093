"""Published policy versions: stored once, never changed, compiled once per process."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.domain.errors import NotFoundError, PolicyError, UnsafePolicyError
from engine.domain.policy.checker import check_policy
from engine.domain.policy.document import Policy
from engine.domain.policy.loader import bundled_policy_files, load_policy_file, load_policy_text
from engine.store.db import Database
from engine.store.models import PolicyVersion


def publish(session: Session, policy: Policy) -> bool:
    """Store a version once the checker proved it safe; True if new.

    Every way to publish comes here (the CLI, the engine API, the bundled policies at
    upgrade), so no version is stored before the proof. An unsafe policy is refused
    with `UnsafePolicyError`, carrying the counterexamples; the same name and version
    with other content is refused too. A version already stored with the same content
    is left as it is: milestones live on it.
    """
    row = session.get(PolicyVersion, (policy.name, policy.version))
    if row is not None:
        if row.digest != policy.digest:
            raise PolicyError(
                f"{policy.source}: {policy.name} version {policy.version} is already published "
                "with different content; publish it as a new version",
                name=policy.name,
                version=policy.version,
            )
        return False
    result = check_policy(policy)
    if not result.ok:
        first = result.violations[0]
        raise UnsafePolicyError(
            f"{policy.source}: {policy.name} version {policy.version} is unsafe and was not "
            f"published ({len(result.violations)} problem(s)); first: {first.message}",
            result,
            name=policy.name,
            version=policy.version,
        )
    session.add(
        PolicyVersion(
            name=policy.name,
            version=policy.version,
            digest=policy.digest,
            document=policy.text,
            published_at=datetime.now(UTC),
        )
    )
    return True


def publish_bundled(database: Database) -> None:
    """Publish the documents shipped in policies/ that are not stored yet."""
    with database.session() as session, session.begin():
        for path in bundled_policy_files():
            publish(session, load_policy_file(path))


@lru_cache(maxsize=256)
def _parse(name: str, version: int, digest: str, text: str) -> Policy:
    return load_policy_text(text, f"{name}@{version}")


def get_policy(session: Session, name: str, version: int, cache: dict | None = None) -> Policy:
    """A stored version, read once per database (versions are immutable) and parsed once."""
    if cache is not None and (name, version) in cache:
        return cache[(name, version)]
    row = session.get(PolicyVersion, (name, version))
    if row is None:
        raise NotFoundError(f"no policy {name!r} version {version}", name=name, version=version)
    policy = _parse(row.name, row.version, row.digest, row.document)
    if cache is not None:
        cache[(name, version)] = policy
    return policy


def latest_version(session: Session, name: str) -> int:
    version = session.scalar(
        select(func.max(PolicyVersion.version)).where(PolicyVersion.name == name)
    )
    if version is None:
        raise NotFoundError(f"no policy named {name!r} is published", name=name)
    return version
