"""Evidence files: size and type limits, checked by content; stored once under their SHA-256.

A file's declared type must match what its first bytes say it is, so a script
cannot arrive labelled as a picture. Files are written to a temporary name and
renamed, so a half-written file never carries a valid hash name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath

from arbitration.errors import DisputeNotFoundError, EvidenceRejectedError
from arbitration.settings import Settings

_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def _matches(content_type: str, data: bytes) -> bool:
    if content_type == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in data
    return any(data.startswith(magic) for magic in _MAGIC.get(content_type, ()))


def clean_filename(name: str) -> str:
    base = PurePath(name.replace("\\", "/")).name.strip()
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*')
    return base[:200] or "evidence"


class EvidenceStore:
    """Content-addressed files under `settings.evidence_dir` (ab/abcdef...)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.evidence_dir)

    def check(self, upload: Upload) -> str:
        """The cleaned filename; refuses empty, oversized, unaccepted or mislabelled files."""
        limit = self.settings.max_evidence_bytes
        if not upload.data:
            raise EvidenceRejectedError("the file is empty", field="file")
        if len(upload.data) > limit:
            raise EvidenceRejectedError(
                f"the file is {len(upload.data)} bytes; the limit is {limit}",
                field="file",
                size=len(upload.data),
                limit=limit,
            )
        content_type = upload.content_type.split(";")[0].strip().lower()
        if content_type not in self.settings.accepted_types:
            raise EvidenceRejectedError(
                f"files of type {content_type!r} are not accepted",
                field="file",
                accepted=list(self.settings.accepted_types),
            )
        if not _matches(content_type, upload.data):
            raise EvidenceRejectedError(
                f"the file's content is not {content_type}", field="file", declared=content_type
            )
        return clean_filename(upload.filename)

    def path_of(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise DisputeNotFoundError("no such evidence file")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_of(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def read(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        if not path.is_file():
            raise DisputeNotFoundError("the evidence file is missing from the store")
        return path.read_bytes()
