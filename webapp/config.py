"""Settings from environment variables, with safe defaults for the embedded mode.

The embedded default (no environment at all) is a SQLite file under
``instance/``, jobs run in-process and a SECRET_KEY generated once and kept
under ``instance/``. ``TALLY_ENV=production`` refuses to start without an
explicit ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a safe configuration."""


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _positive(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}.")
    return int(value)


def _seconds_list(name: str, default: str) -> tuple[int, ...]:
    """A comma-separated list of seconds, e.g. the back-off before each retry."""
    value = os.environ.get(name, "").strip() or default
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise ConfigError(f"{name} must be seconds separated by commas, e.g. 60,300.")
    return tuple(int(part) for part in parts)


def _key_list(name: str) -> list[str]:
    """Comma-separated secret keys (no key holds a comma: they are hex or url-safe)."""
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def normalise_database_url(url: str) -> str:
    """Point ``postgres://`` and ``postgresql://`` URLs at the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _embedded_secret_key(instance_path: Path) -> str:
    """Read the instance secret, creating it (mode 0600) on first start."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load_config(instance_path: str) -> dict:
    """Build the Flask config mapping from the process environment."""
    instance = Path(instance_path)
    production = os.environ.get("TALLY_ENV", "development").strip().lower() == "production"

    secret_key = os.environ.get("SECRET_KEY", "").strip()
    if not secret_key:
        if production:
            raise ConfigError(
                "SECRET_KEY is not set. In production (TALLY_ENV=production) Tally needs "
                "a long random SECRET_KEY in the environment, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        secret_key = _embedded_secret_key(instance)

    database_url = os.environ.get("DATABASE_URL", "").strip()
    if not database_url:
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'tally.db'}"

    mail_timeout = _positive("MAIL_TIMEOUT_SECONDS", 30)
    mail_requeue_after = _positive("MAIL_REQUEUE_AFTER_SECONDS", 180)
    if mail_requeue_after <= mail_timeout:
        # An email still "sending" after this long is taken for lost and sent again; a
        # send must therefore always give up (time out) before that.
        raise ConfigError(
            "MAIL_REQUEUE_AFTER_SECONDS must be longer than MAIL_TIMEOUT_SECONDS "
            f"({mail_requeue_after} <= {mail_timeout})."
        )

    public_base_url = os.environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if not public_base_url:
        if production:
            raise ConfigError(
                "PUBLIC_BASE_URL is not set. In production Tally needs the address staff "
                "use, e.g. https://tally.example.com: links in emails are built from it."
            )
        # The quick start (scripts/serve) listens on HOST:PORT.
        host = os.environ.get("HOST", "").strip()
        host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        public_base_url = f"http://{host}:{os.environ.get('PORT', '').strip() or '5000'}"

    return {
        "TALLY_ENV": "production" if production else "development",
        "SECRET_KEY": secret_key,
        # Previous keys, still accepted for what they signed (session cookies, CSRF
        # tokens, payment links) while a new SECRET_KEY is rolled out; see the README.
        "SECRET_KEY_FALLBACKS": _key_list("SECRET_KEY_FALLBACKS"),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip() or None,
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "").strip() or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25") or 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS", False),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "tally@localhost"),
        # Flask-Mail would otherwise stop sending whenever app.testing is on; the tests
        # deliver to a real SMTP server on loopback.
        "MAIL_SUPPRESS_SEND": False,
        "SELLER_NAME": os.environ.get("SELLER_NAME", "").strip() or "Tally",
        "SELLER_ADDRESS": os.environ.get("SELLER_ADDRESS", "").strip(),
        # A font file for the characters DejaVu Sans lacks in PDFs (Chinese, Japanese,
        # Korean …): a path, "none", or empty for the first of Debian's that is installed.
        "PDF_FALLBACK_FONT": os.environ.get("PDF_FALLBACK_FONT", "").strip(),
        # Links in emails are built from it (jobs have no request to take a host from).
        "PUBLIC_BASE_URL": public_base_url,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", production),
        "PROXY_FIX": _flag("PROXY_FIX", False),
        # The CSRF token lives as long as the session: staff keep the panel open all day.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRFToken"],
        # Not an operator setting: None hashes passwords with werkzeug's default (scrypt);
        # the tests set a cheap method so that making a staff account costs no time.
        "PASSWORD_HASH_METHOD": None,
        "SIGN_IN_MAX_FAILURES_PER_ACCOUNT": int(os.environ.get("SIGN_IN_MAX_FAILURES", "5")),
        "SIGN_IN_MAX_FAILURES_PER_ADDRESS": 20,
        "SIGN_IN_LOCK_MINUTES": int(os.environ.get("SIGN_IN_LOCK_MINUTES", "15")),
        # A staff session ends after this long without a request, and this long after
        # sign-in whatever happens (services.staff_sessions).
        "SESSION_IDLE_MINUTES": _positive("SESSION_IDLE_MINUTES", 8 * 60),
        "SESSION_LIFETIME_HOURS": _positive("SESSION_LIFETIME_HOURS", 24),
        "CUSTOMERS_PER_PAGE": 50,
        # Background work (see jobs/ and docs/features.md "Background work").
        # Without REDIS_URL jobs run in a thread of the web process ("thread"); the
        # tests use "sync", which runs them in the request right after the commit.
        "JOBS_INLINE": os.environ.get("JOBS_INLINE", "thread").strip() or "thread",
        "JOBS_SWEEP_SECONDS": _positive("JOBS_SWEEP_SECONDS", 60),
        # Payment reminders (services.reminders): how often the job looks for reminders
        # due, and how many days late a step may still be sent (older ones are skipped).
        "REMINDERS_EVERY_SECONDS": _positive("REMINDERS_EVERY_SECONDS", 3600),
        "REMINDERS_GRACE_DAYS": _positive("REMINDERS_GRACE_DAYS", 3),
        "MAIL_RETRY_BACKOFF": _seconds_list("MAIL_RETRY_BACKOFF", "60,300,1800"),
        "MAIL_REQUEUE_AFTER_SECONDS": mail_requeue_after,
        "MAIL_TIMEOUT_SECONDS": mail_timeout,
        "EXPORT_DIR": os.environ.get("EXPORT_DIR", "").strip() or str(instance / "exports"),
        "EXPORT_KEEP_DAYS": _positive("EXPORT_KEEP_DAYS", 7),
        "EXPORT_STALE_AFTER_SECONDS": _positive("EXPORT_STALE_AFTER_SECONDS", 120),
        "EXPORT_MAX_ATTEMPTS": _positive("EXPORT_MAX_ATTEMPTS", 3),
        "EXPORT_BATCH_SIZE": _positive("EXPORT_BATCH_SIZE", 5000),
        # Bulk actions on the customer list over this many customers run as one
        # background job with a progress page (services.bulk); fewer, in the request.
        "BULK_JOB_THRESHOLD": _positive("BULK_JOB_THRESHOLD", 200),
        # CSV import of customers (services.imports): uploads kept under IMPORT_DIR for
        # IMPORT_KEEP_DAYS (the rejected rows are read from them), at most IMPORT_MAX_BYTES.
        "IMPORT_DIR": os.environ.get("IMPORT_DIR", "").strip() or str(instance / "imports"),
        "IMPORT_MAX_BYTES": _positive("IMPORT_MAX_BYTES", 50_000_000),
        "IMPORT_CHUNK_SIZE": _positive("IMPORT_CHUNK_SIZE", 1000),
        "IMPORT_STALE_AFTER_SECONDS": _positive("IMPORT_STALE_AFTER_SECONDS", 120),
        "IMPORT_MAX_ATTEMPTS": _positive("IMPORT_MAX_ATTEMPTS", 3),
        "IMPORT_KEEP_DAYS": _positive("IMPORT_KEEP_DAYS", 7),
        # Requests a minute to the public payment-link page, per client address.
        "PAYMENT_LINK_RATE_LIMIT": _positive("PAYMENT_LINK_RATE_LIMIT", 60),
        # Requests a minute to the JSON API (/api/v1), per API key.
        "API_RATE_LIMIT": _positive("API_RATE_LIMIT", 120),
        # Flask-Compress (webapp/compression.py): pages, fragments and JSON go out as
        # brotli or gzip, as the client accepts (none for one that sends no
        # Accept-Encoding), unless shorter than COMPRESS_MIN_SIZE (500 bytes). Files
        # sent from disk (export downloads) go as they are: their length, ranges and
        # memory stay send_file's. Static files are compressed once per process
        # instead (webapp/static_files.py).
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_STREAMS": False,
    }
