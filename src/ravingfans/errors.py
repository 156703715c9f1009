"""The domain error tree: every failure a user can cause is one of these, never a bare traceback.

    RavingFansError
    ├── ConfigError          settings missing or unsafe (e.g. production without a secret key)
    ├── DatabaseError        database unreachable or not initialised
    │   └── SchemaOutOfDate  migrations not applied; run `ravingfans init`
    ├── NotFound             a record named by the user does not exist
    ├── ValidationFailed     user input (a form, an API body, an argument) is invalid
    ├── NotSignedIn          a page or API call needs a signed-in user or a valid token
    ├── PermissionDenied     the signed-in user's role does not allow this
    ├── TooManyAttempts      too many failed sign-ins; ``retry_after`` says how long to wait
    ├── Conflict             the request clashes with what is stored (e.g. a reused idempotency key)
    └── ImportFailed         a file could not be imported; carries per-row problems

Each edge (CLI, HTML, JSON) turns these into messages in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class RavingFansError(Exception):
    """Base of every error ravingfans raises on purpose; ``str()`` is the user-facing message."""

    exit_code: int = 1
    http_status: int = 400
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class ConfigError(RavingFansError):
    """Settings are missing, malformed or unsafe for the chosen environment."""

    exit_code = 2
    http_status = 500
    code = "config_error"


class DatabaseError(RavingFansError):
    """The database cannot be reached or is not in a usable state."""

    exit_code = 3
    http_status = 503
    code = "database_error"


class SchemaOutOfDate(DatabaseError):
    """The database schema is older (or newer) than this version of ravingfans expects."""

    code = "schema_out_of_date"


class NotFound(RavingFansError):
    """A record the user named does not exist."""

    exit_code = 4
    http_status = 404
    code = "not_found"


class NotSignedIn(RavingFansError):
    """The request carries no valid session or token: sign in (pages) or send a token (API)."""

    http_status = 401
    code = "not_signed_in"


class PermissionDenied(RavingFansError):
    """The user is signed in but their role does not allow this action."""

    http_status = 403
    code = "permission_denied"


class TooManyAttempts(RavingFansError):
    """Too many failed sign-ins for an account or from an address; wait ``retry_after`` seconds."""

    http_status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class Conflict(RavingFansError):
    """The request clashes with what is already stored."""

    http_status = 409
    code = "conflict"


class ValidationFailed(RavingFansError):
    """Input from a person or a client is invalid; ``field`` names what to fix."""

    exit_code = 2
    http_status = 422
    code = "validation_failed"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


@dataclass(frozen=True)
class RowProblem:
    """One problem found in one row of an imported file."""

    line: int
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "a row"
        if self.column:
            where += f", column {self.column!r}"
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}{shown}: {self.message}"


@dataclass
class ImportReport:
    """What an import did or would do; also carried by :class:`ImportFailed`."""

    kind: str
    path: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0  # rows that carry no record (e.g. Shopify's image-only product rows)
    customers_created: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[str] = field(default_factory=list)
    rejects_path: str | None = None
    dry_run: bool = False

    def summary(self) -> str:
        """One line a person reads: what changed."""
        verb = "would be" if self.dry_run else ""
        parts = [
            f"{self.created} {verb} created".replace("  ", " "),
            f"{self.updated} {verb} updated".replace("  ", " "),
            f"{self.unchanged} unchanged",
        ]
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        if self.skipped:
            parts.append(f"{self.skipped} image-only rows skipped")
        text = f"{self.kind}: {self.rows} rows read; " + ", ".join(parts)
        if self.customers_created:
            text += f"; {self.customers_created} new customers from orders"
        return text


class ImportFailed(RavingFansError):
    """An import found problems and wrote nothing (or the file could not be read at all)."""

    exit_code = 5
    code = "import_failed"

    def __init__(self, message: str, *, report: ImportReport | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report
