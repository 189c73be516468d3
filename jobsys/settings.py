"""Typed settings: ``JOBSYS_*`` environment variables over an optional TOML file.

Precedence (highest first): keyword arguments, ``JOBSYS_*`` environment variables,
the TOML file named by ``JOBSYS_CONFIG`` (or ``./jobsys.toml`` when present), defaults.
With nothing set, jobsys runs embedded: a SQLite store and a server-less
(filesystem) broker under ``home`` (``./.jobsys``).

Settings are read once, by ``load_settings()``, in entry points only (the CLI,
the lazy ``jobsys.celery.app``); everything else receives a ``Settings``.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jobsys.durations import parse_duration
from jobsys.errors import ConfigError

CONFIG_ENV = "JOBSYS_CONFIG"
DEFAULT_CONFIG_FILE = "jobsys.toml"
#: one ``api_tokens`` entry: scope, the token's SHA-256 (lowercase hex), an optional name
TOKEN_ENTRY = re.compile(r"(?P<scope>read|admin):(?P<digest>[0-9a-f]{64})(?::(?P<name>[^:\s]+))?")


class Settings(BaseSettings):
    """Every jobsys setting. Environment variable: ``JOBSYS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JOBSYS_", extra="forbid", frozen=True)

    home: Path = Field(
        default=Path(".jobsys"),
        description="Directory for the embedded store, broker, staging, outputs and logs.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker URL (redis://, amqp://). Empty: the embedded filesystem broker.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store (postgresql+psycopg://, sqlite:///). "
        "Empty: SQLite under home.",
    )
    result_backend: str | None = Field(
        default=None,
        description="Celery result backend, used only to join the chords of DAG runs. "
        "Empty: the broker's Redis, else a database backend on the store.",
    )
    output_dir: Path | None = Field(
        default=None, description="Where published job outputs go. Empty: <home>/outputs."
    )
    source_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders job inputs may read from (comma-separated or a JSON list); "
        "source paths elsewhere are refused at submit and in the worker. Outputs stay "
        "readable. Empty: unconfined (set it in production).",
    )
    log_dir: Path | None = Field(
        default=None, description="Where per-job logs go. Empty: <home>/logs."
    )
    jobtype_modules: list[str] = Field(
        default_factory=list,
        description="Extra modules to import job types from, besides the "
        "`jobsys.jobtypes` entry points.",
    )
    worker_concurrency: int = Field(default=2, ge=1, description="Processes per worker.")
    worker_prefetch: int = Field(
        default=1, ge=1, description="Messages a worker process reserves ahead (1 = fair)."
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=1,
        description="Redis: seconds before an unacknowledged message is redelivered. "
        "Keep it above the longest job.",
    )
    heartbeat_interval: float = Field(
        default=10.0, gt=0, description="Seconds between heartbeats of a running job."
    )
    default_priority: int = Field(
        default=5, ge=0, le=9, description="Priority of jobs that give none (0 low .. 9 high)."
    )
    task_events: bool = Field(
        default=False,
        description="Workers send task events (Flower's live view needs them; about 1 ms per job).",
    )
    beat_max_loop_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds `jobsys beat` sleeps at most between looks at the schedules: "
        "a schedule created, changed or deleted takes effect within this time.",
    )
    beat_misfire_grace: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a schedule's instant may be late and still fire as on time; "
        "older instants are misfires, handled by the schedule's misfire policy.",
    )
    beat_max_catchup: int = Field(
        default=100,
        ge=0,
        description="Missed instants a schedule with misfire policy `all` fires at most.",
    )
    history_retention: str = Field(
        default="30d",
        description="`jobsys beat` prunes, once a day, the history (ended jobs, their runs, "
        "groups, sink figures and logs) whose last activity is older than this (`90m`, `12h`, "
        "`30d`, `2w`). Empty or `0`: never.",
    )
    history_keep_failed: bool = Field(
        default=False,
        description="The daily prune keeps FAILED jobs (with their runs and groups).",
    )
    auto_migrate: bool = Field(
        default=True,
        description="Create/upgrade the schema on first use when the store is SQLite.",
    )
    api_host: str = Field(default="127.0.0.1", description="Address `jobsys api` listens on.")
    api_port: int = Field(default=8080, ge=1, le=65535, description="Port `jobsys api` listens on.")
    api_tokens: list[str] = Field(
        default_factory=list,
        description="REST API bearer tokens, by hash: `<scope>:<sha256 hex>[:<name>]`, scope "
        "read or admin (`jobsys api hash-token`). Empty: every /v1 request is refused.",
    )
    api_auth_failure_limit: int = Field(
        default=10,
        ge=0,
        description="After this many failed API authentications (a wrong bearer token) from one "
        "client address within `api_auth_failure_window` seconds, the address is locked out for "
        "that window: 429 with Retry-After on every /v1 request, even with a valid token. "
        "Counted per `jobsys api` process. 0: no limit.",
    )
    api_auth_failure_window: float = Field(
        default=60.0,
        gt=0,
        description="Seconds over which failed API authentications are counted, and how long "
        "an address that went over `api_auth_failure_limit` stays locked out.",
    )
    callback_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts DAG-run HTTP callbacks may POST to: names (`hooks.example.com`), "
        "wildcards (`*.example.com`), IP addresses or networks (`10.1.0.0/16`), or `*` (any). "
        "Empty: any host whose addresses are all public (loopback, private, link-local and "
        "reserved addresses are refused).",
    )

    flower_port: int = Field(
        default=5555, ge=1, le=65535, description="Port `jobsys flower` listens on."
    )
    flower_basic_auth: SecretStr | None = Field(
        default=None,
        description="`user:password` (comma-separated for several) that `jobsys flower` asks for; "
        "never logged. Empty: `jobsys flower` refuses to start.",
    )

    @field_validator("flower_basic_auth")
    @classmethod
    def _user_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        for i, pair in enumerate(value.get_secret_value().split(",")):
            user, sep, password = pair.partition(":")
            if not (user and sep and password):
                raise ValueError(f"entry {i} is not `user:password`")
        return value

    @field_validator("source_roots", mode="before")
    @classmethod
    def _roots_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # JOBSYS_SOURCE_ROOTS=/data/in,/srv/media (or a JSON list)
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a JSON list of folders: {exc}") from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("source_roots")
    @classmethod
    def _roots_absolute(cls, value: list[Path]) -> list[Path]:
        for i, root in enumerate(value):
            if "\x00" in str(root) or not root.expanduser().is_absolute():
                raise ValueError(f"entry {i} ({str(root)!r}) must be an absolute folder")
        return value

    @field_validator("history_retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        if value.strip() in ("", "0"):
            return ""
        parse_duration(value)  # its ValueError says what a duration looks like
        return value.strip()

    @field_validator("broker_url", "database_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("api_tokens")
    @classmethod
    def _token_entries(cls, value: list[str]) -> list[str]:
        for i, entry in enumerate(value):
            if not TOKEN_ENTRY.fullmatch(entry):
                raise ValueError(
                    f"entry {i} is not `<read|admin>:<sha256 hex of the token>[:<name>]` "
                    "(hash a token with `jobsys api hash-token`)"
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over TOML over defaults."""
        toml_file = os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    # Derived values: one place computes them.

    @property
    def resolved_home(self) -> Path:
        """``home`` as an absolute path (the filesystem broker needs absolute folders)."""
        return self.home.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        """The store URL, defaulting to SQLite under home."""
        return self.database_url or f"sqlite:///{self.resolved_home / 'jobsys.db'}"

    @property
    def effective_broker_url(self) -> str:
        """The broker URL, defaulting to the filesystem transport under home."""
        return self.broker_url or "filesystem://"

    @property
    def effective_result_backend(self) -> str:
        """Where chord joins are counted: Redis when the broker is Redis, else the database."""
        if self.result_backend:
            return self.result_backend
        broker = self.effective_broker_url
        if broker.split("://", 1)[0] in {"redis", "rediss"}:
            return broker
        if self.database_url:
            return f"db+{self.database_url}"
        return f"db+sqlite:///{self.resolved_home / 'results.db'}"

    @property
    def embedded_broker(self) -> bool:
        """True when the server-less filesystem broker is in use."""
        return self.effective_broker_url.startswith("filesystem://")

    @property
    def staging_root(self) -> Path:
        """``.staging/`` sits beside outputs, so publishing is a same-filesystem rename."""
        return self.outputs_root.parent / ".staging"

    @property
    def outputs_root(self) -> Path:
        """Where published outputs go."""
        return (self.output_dir or self.resolved_home / "outputs").expanduser().resolve()

    @property
    def path_roots(self) -> tuple[Path, ...]:
        """Where path inputs may point: the source roots, plus outputs (jobs read earlier
        jobs' outputs). Empty when no source roots are set: paths are not confined."""
        if not self.source_roots:
            return ()
        roots = [r.expanduser().resolve() for r in self.source_roots]
        return (*dict.fromkeys([*roots, self.outputs_root]),)

    @property
    def retention_period(self) -> timedelta | None:
        """``history_retention`` as a period; None when the daily prune is off."""
        return parse_duration(self.history_retention) if self.history_retention else None

    @property
    def logs_root(self) -> Path:
        """Where per-job logs go."""
        return (self.log_dir or self.resolved_home / "logs").expanduser().resolve()


def load_settings(**overrides: Any) -> Settings:
    """Read settings once, turning validation errors into a ``ConfigError`` naming the setting."""
    named = os.environ.get(CONFIG_ENV)
    if named and not Path(named).is_file():
        raise ConfigError(f"{CONFIG_ENV}={named}: no such file", setting=CONFIG_ENV)
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        source = f"{CONFIG_ENV}={named}" if named else f"./{DEFAULT_CONFIG_FILE}"
        raise ConfigError(f"{source}: not valid TOML: {exc}", setting=CONFIG_ENV) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "?"
        raise ConfigError(
            f"setting JOBSYS_{field.upper()}: {first['msg']}", setting=f"JOBSYS_{field.upper()}"
        ) from exc
