"""The one settings object, read once from the environment and passed down.

No other module reads ``os.environ``. Tests build :class:`Settings` with keyword arguments
(field names or their environment aliases both work).

Destinations come from two places, merged:

* the ``default`` destination, from ``TIKTOK_PIXEL_CODE`` / ``TIKTOK_ACCESS_TOKEN`` /
  ``TIKTOK_TEST_EVENT_CODE``;
* a YAML or JSON file named by ``MASIVO_TIKTOK_DESTINATIONS`` (``destinations: [...]``).

Every validation error names the destination and the field, and never the value: an access
token must not reach an error message, a log line or Sentry. Each setting is read from one
environment variable, declared with :func:`env`. Bucket sizing is the rate limiter's
(:mod:`worker.store.ratelimit`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.functional_validators import AfterValidator
from pydantic_settings import BaseSettings, SettingsConfigDict

from transforms.names import check_event_map
from transforms.options import DEFAULT_MAX_EVENT_AGE_S, Features, TransformOptions
from worker.errors import ConfigError
from worker.store.connection import BrokerUrl, RedisUrl

__all__ = [
    "DEFAULT_DESTINATION",
    "Destination",
    "FeatureSwitches",
    "Settings",
    "env_name",
    "load_settings",
    "parse_destinations",
]

log = logging.getLogger(__name__)

DEFAULT_DESTINATION = "default"
TIKTOK_API_BASE_URL = "https://business-api.tiktok.com"
PIXEL_CODE_RE = re.compile(r"^[0-9A-Z]{20}$")
DESTINATION_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: an HTTP header value we can send as is: visible ASCII (0x21-0x7E), nothing else
HEADER_TOKEN_RE = re.compile(r"[!-~]+")


#: Which kinds of event a destination sends (all on by default): transforms' own switches,
#: validated by pydantic as a plain dataclass (unknown keys are refused), so the two can
#: never drift (pinned by tests/worker/test_settings.py).
FeatureSwitches = Features
EventMap = Annotated[dict[str, str], AfterValidator(check_event_map)]  # errors name the key


class Destination(BaseModel):
    """One brand's TikTok pixel and how to deliver to it."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id: str = Field(description="unique name of the destination, used in every command")
    pixel_code: str = Field(description="TikTok pixel code: 20 upper-case letters and digits")
    access_token: SecretStr = Field(description="Events API access token; never printed")
    test_event_code: str | None = Field(None, description="sends to TikTok's Test Events view")
    rate_limit: float | None = Field(
        None, gt=0, description="events/s for this pixel; default TIKTOK_RATE_LIMIT"
    )
    rate_limit_group: str | None = Field(
        None, description="destinations sharing one token bucket (e.g. one access token)"
    )
    default_currency: str | None = Field(None, description="ISO-4217 code when events have none")
    phone_region: str | None = Field(None, description="ISO-3166 region for local phone numbers")
    max_event_age_days: float = Field(
        DEFAULT_MAX_EVENT_AGE_S / 86400, gt=0, description="older events are dropped (too_old)"
    )
    features: Features = Field(default_factory=Features)
    purchase_event_id: Literal["id", "order_id"] = Field("id", description="purchase event_id")
    event_map: EventMap = Field(default_factory=dict, description="Masivo type -> TikTok name")
    limited_data_use: bool | None = Field(None, description="for events that do not say")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not DESTINATION_ID_RE.match(value):
            raise ValueError("must be 1-64 letters, digits, '_', '.' or '-'")
        return value

    @field_validator("pixel_code")
    @classmethod
    def _pixel_shape(cls, value: str) -> str:
        value = value.strip()
        if not PIXEL_CODE_RE.match(value):
            raise ValueError("must be 20 upper-case letters and digits (e.g. C9XXXXXXXXXXXXXXXXXX)")
        return value

    @field_validator("access_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise ValueError("is required")
        if not HEADER_TOKEN_RE.fullmatch(token):
            # It is sent as the Access-Token header: anything else fails every request (and
            # the HTTP library's error would quote it). Never say which character: it is a
            # piece of the secret.
            raise ValueError(
                "must be visible ASCII only (letters, digits, punctuation: no spaces, accents, "
                "typographic quotes or control characters); it is sent as an HTTP header"
            )
        return SecretStr(token)

    @field_validator("max_event_age_days", mode="before")
    @classmethod
    def _age_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number of days, not a boolean")
        return value

    @field_validator("max_event_age_days")
    @classmethod
    def _age_range(cls, value: float) -> float:
        if not (1 / 1440 <= value <= 3650):
            raise ValueError("must be between one minute (0.000695) and 3650 days")
        return value

    @field_validator("default_currency")
    @classmethod
    def _currency_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("must be a three-letter ISO-4217 code")
        return value

    @field_validator("phone_region")
    @classmethod
    def _region_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be an ISO-3166 region phonenumbers knows (e.g. MX, GB, US)")
        return value

    @property
    def bucket_name(self) -> str:
        """The token bucket this destination draws from (its group, else itself)."""
        return self.rate_limit_group or self.id

    def transform_options(self) -> TransformOptions:
        same = type(self).model_fields.keys() & TransformOptions.__dataclass_fields__.keys()
        shared = {name: getattr(self, name) for name in same}  # currency, event_map, ...
        age = int(self.max_event_age_days * 86400)
        return TransformOptions(destination_id=self.id, max_event_age_s=age, **shared)


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(root)"


def _describe(
    error: ValidationError, where: str, name: Callable[[tuple[Any, ...]], str] = _dotted
) -> str:
    """One line per problem, naming the field (as ``name`` spells it), never the input.

    A message that quotes the input anyway (a careless validator) becomes its error type.
    """
    parts = []
    for item in error.errors(include_url=False):
        msg = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and len(value) >= 3 and value in msg:
            msg = f"invalid ({item['type']})"
        parts.append(f"{where}: {name(tuple(item['loc']))}: {msg}")
    return "; ".join(parts)


def parse_destinations(raw: Any, source: str) -> list[Destination]:
    """Validate the ``destinations`` list of a destinations file (already decoded)."""
    if isinstance(raw, dict):
        raw = raw.get("destinations")
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: expected a top-level 'destinations' list")
    out: list[Destination] = []
    for index, item in enumerate(raw):
        name = item.get("id") if isinstance(item, dict) else None
        where = f"{source}: destination {name!r}" if name else f"{source}: destinations[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected a mapping")
        try:
            out.append(Destination(**item))
        except ValidationError as exc:
            raise ConfigError(_describe(exc, where)) from None
    return out


def env(var: str, default: Any, **constraints: Any) -> Any:
    """A :class:`Settings` field read from the environment variable ``var`` (the one alias:
    ``populate_by_name`` lets its own name be a keyword; its docstring is its description)."""
    return Field(default, validation_alias=var, **constraints)


class Settings(BaseSettings):
    """Everything the worker, the CLI and the emulator read from the environment."""

    model_config = SettingsConfigDict(
        populate_by_name=True,
        extra="ignore",
        case_sensitive=False,
        frozen=True,
        env_ignore_empty=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )

    redis_url: RedisUrl = env("REDIS_URL", None)
    """data Redis (cluster: redis+cluster://h:p[,h:p...]); unset: embedded Redis in data_dir"""
    celery_broker_url: BrokerUrl = env("CELERY_BROKER_URL", None, validate_default=True)
    """broker (doorbells): one plain Redis or RabbitMQ (amqp://), never a cluster; REDIS_URL"""
    tiktok_pixel_code: str | None = env("TIKTOK_PIXEL_CODE", None)
    """pixel code of the `default` destination"""
    tiktok_access_token: SecretStr | None = env("TIKTOK_ACCESS_TOKEN", None)
    """access token of the `default` destination"""
    tiktok_test_event_code: str | None = env("TIKTOK_TEST_EVENT_CODE", None)
    """test event code of the `default` destination"""
    destinations_file: Path | None = env("MASIVO_TIKTOK_DESTINATIONS", None)
    """YAML or JSON file listing many destinations"""
    api_base_url: str = env("TIKTOK_API_BASE_URL", TIKTOK_API_BASE_URL)
    """TikTok Business API host; the emulator's address in tests"""
    rate_limit: float = env("TIKTOK_RATE_LIMIT", 1000.0, ge=0)
    """default events/s per destination bucket (0 = unlimited)"""
    sentry_dsn: SecretStr | None = env("SENTRY_DSN", None)
    """report errors and beat check-ins to Sentry (scrubbed)"""
    data_dir: Path = env("MASIVO_TIKTOK_DATA_DIR", Path(".masivo-tiktok"))
    """where the embedded Redis keeps its AOF and socket"""
    batch_size: int = env("MASIVO_TIKTOK_BATCH_SIZE", 1000, ge=1, le=1000)
    """events per TikTok request (TikTok's maximum is 1000)"""
    linger_s: float = env("MASIVO_TIKTOK_LINGER", 0.5, ge=0, le=10)
    """how long a partial batch may wait for company before it is sent"""
    rate_headroom: float = env("MASIVO_TIKTOK_RATE_HEADROOM", 0.01, ge=0, lt=0.5)
    """share of the rate kept unused: TikTok's clock is not ours; a 40100 costs more than 1%"""
    burst: int | None = env("MASIVO_TIKTOK_BURST", None, ge=1)
    """most events granted in any window of ~1 s (our bucket's capacity); default and upper
    bound: the rate limit, so every second holds at most the limit (worker/store/ratelimit.py)
    """
    max_attempts: int = env("MASIVO_TIKTOK_MAX_ATTEMPTS", 12, ge=1)
    """failed attempts of a batch (40100 answers excepted) before it is dead-lettered"""
    max_recoveries: int = env("MASIVO_TIKTOK_MAX_RECOVERIES", 3, ge=1)
    """expired leases of one batch before it is split (crash-loop breaker); a single event that
    keeps killing workers is dead-lettered as worker_lost
    """
    max_retry_age_s: float = env("MASIVO_TIKTOK_MAX_RETRY_AGE", 6 * 3600, gt=0)
    """seconds after the first failure after which a batch is dead-lettered"""
    retry_base_s: float = env("MASIVO_TIKTOK_RETRY_BASE", 2.0, gt=0)
    """first backoff; doubles per attempt with full jitter"""
    retry_max_s: float = env("MASIVO_TIKTOK_RETRY_MAX", 300.0, gt=0)
    """longest backoff between attempts"""
    lease_s: float = env("MASIVO_TIKTOK_LEASE", 60.0, gt=0)
    """a claimed batch not finished by then is put back by recovery"""
    http_timeout_s: float = env("MASIVO_TIKTOK_HTTP_TIMEOUT", 10.0, gt=0)
    """read timeout of a TikTok request"""
    dlq_max_entries: int = env("MASIVO_TIKTOK_DLQ_MAX", 100_000, ge=100)
    """each destination's dead-letter stream holds at most this many entries (oldest go)"""
    auth_probe_s: float = env("MASIVO_TIKTOK_AUTH_PROBE", 60.0, gt=0)
    """how often a paused destination's token is probed"""
    dlq_replay_s: float = env("MASIVO_TIKTOK_DLQ_REPLAY", 600.0, gt=0)
    """how often beat replays the retryable dead-letter categories"""
    recover_s: float = env("MASIVO_TIKTOK_RECOVER", 15.0, gt=0)
    """how often beat recovers expired leases and due retries"""
    expire_s: float = env("MASIVO_TIKTOK_EXPIRE", 300.0, gt=0)
    """how often beat drops what passed the age limit while waiting, and walks every known
    destination, not only the active ones (worker.jobs)"""
    ingest_chunk_size: int = env("MASIVO_TIKTOK_CHUNK", 2000, ge=1, le=10_000)
    """raw events per intake entry and ingest step (about 1 MB at 2000); bigger chunks are
    cheaper (bench/pipeline.py)"""
    max_backlog_events: int = env("MASIVO_TIKTOK_MAX_BACKLOG", 2_000_000, ge=0)
    """producers are refused while a destination has this many events waiting (intake + outbox
    + batches; 0 = no bound)"""
    intake_memory_share: float = env("MASIVO_TIKTOK_MEMORY_SHARE", 0.8, gt=0, le=1)
    """producers are refused while Redis uses more than this share of its maxmemory: the rest
    is headroom for workers to drain (1 = no headroom)"""
    intake_replicas: int = env("MASIVO_TIKTOK_INTAKE_REPLICAS", 0, ge=0)
    """replicas that must hold a chunk before a producer is told it was accepted (Redis WAIT;
    0 = the primary alone): what a failover to a replica keeps (worker/store/intake.py)"""
    partner_name: str = env("MASIVO_TIKTOK_PARTNER_NAME", "Masivo")
    """partner_name sent to TikTok"""

    @cached_property
    def destinations(self) -> dict[str, Destination]:
        """Every configured destination by id (validated once, on first use)."""
        found: list[Destination] = []
        if self.tiktok_pixel_code or self.tiktok_access_token:
            try:
                found.append(
                    Destination(
                        id=DEFAULT_DESTINATION,
                        pixel_code=self.tiktok_pixel_code or "",
                        access_token=self.tiktok_access_token or SecretStr(""),
                        test_event_code=self.tiktok_test_event_code or None,
                    )
                )
            except ValidationError as exc:
                where = f"environment: destination {DEFAULT_DESTINATION!r}"
                raise ConfigError(_describe(exc, where, _default_env_name)) from None
        if self.destinations_file is not None:
            found.extend(self._read_file(self.destinations_file))
        by_id: dict[str, Destination] = {}
        folded: dict[str, str] = {}
        where = f"{self.destinations_file}: " if self.destinations_file else ""
        for dest in found:
            if dest.id in by_id:
                raise ConfigError(f"{where}destination {dest.id!r}: id is defined twice")
            if dest.id.lower() in folded:
                raise ConfigError(
                    f"{where}destination {dest.id!r}: id differs from {folded[dest.id.lower()]!r} "
                    "only by case; ids must be unique regardless of case"
                )
            folded[dest.id.lower()] = dest.id
            if not dest.pixel_code.startswith("C9"):
                log.warning(
                    "destination %r: pixel code does not start with C9; TikTok issues other "
                    "prefixes too, so it is used as given",
                    dest.id,
                )
            by_id[dest.id] = dest
        return by_id

    def _read_file(self, path: Path) -> list[Destination]:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise ConfigError(
                f"MASIVO_TIKTOK_DESTINATIONS: cannot read {source}: {exc.strerror}"
            ) from None
        try:
            raw = yaml.safe_load(text)  # YAML is a superset of JSON
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{source}: not valid YAML or JSON{where}") from None
        return parse_destinations(raw, source)

    def destination(self, dest_id: str) -> Destination:
        try:
            return self.destinations[dest_id]
        except KeyError:
            known = ", ".join(sorted(self.destinations)) or "none configured"
            raise ConfigError(f"unknown destination {dest_id!r} (known: {known})") from None

    def transform_options(self, dest_id: str = DEFAULT_DESTINATION) -> TransformOptions:
        """Options for previewing transforms; works with no destination configured."""
        if dest_id == DEFAULT_DESTINATION and dest_id not in self.destinations:
            return TransformOptions(destination_id=DEFAULT_DESTINATION)
        return self.destination(dest_id).transform_options()


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; configuration errors become one clear :class:`ConfigError`."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "environment", _env_name)) from None
    _ = settings.destinations  # validate now, not on first use
    return settings


def env_name(field: str) -> str:
    """The environment variable that sets the :class:`Settings` field ``field``."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else field.upper()


def _env_name(loc: tuple[Any, ...]) -> str:
    """An error location of :class:`Settings` by its variable (under the name that was used)."""
    return env_name(str(loc[0])) if loc else "(root)"


def _default_env_name(loc: tuple[Any, ...]) -> str:
    """A field of the ``default`` destination, and the variable (``tiktok_<field>``) setting it."""
    field = _dotted(loc)
    known = f"tiktok_{field}" in Settings.model_fields
    return f"{field} ({env_name(f'tiktok_{field}')})" if known else field
