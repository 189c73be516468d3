"""Settings: embedded defaults, ``JOBSYS_*`` variables, a TOML file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from jobsys.errors import ConfigError
from jobsys.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_with_nothing_set_jobsys_runs_embedded_under_dot_jobsys(isolated_settings: Path) -> None:
    settings = load_settings()
    home = isolated_settings / ".jobsys"
    assert settings.home == Path(".jobsys")
    assert settings.resolved_home == home
    assert settings.broker_url is None and settings.database_url is None
    assert settings.effective_broker_url == "filesystem://"
    assert settings.embedded_broker
    assert settings.effective_database_url == f"sqlite:///{home / 'jobsys.db'}"
    assert settings.outputs_root == home / "outputs"
    assert settings.staging_root == home / ".staging"
    assert settings.logs_root == home / "logs"


def test_defaults_of_the_tunables() -> None:
    settings = load_settings()
    assert settings.worker_concurrency == 2
    assert settings.worker_prefetch == 1
    assert settings.default_priority == 5
    assert settings.heartbeat_interval == 10.0
    assert settings.jobtype_modules == []
    assert settings.auto_migrate is True


def test_jobsys_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JOBSYS_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("JOBSYS_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("JOBSYS_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/x")
    monkeypatch.setenv("JOBSYS_WORKER_CONCURRENCY", "8")
    monkeypatch.setenv("JOBSYS_HEARTBEAT_INTERVAL", "0.5")
    monkeypatch.setenv("JOBSYS_JOBTYPE_MODULES", '["my.jobs", "more.jobs"]')
    settings = load_settings()
    assert settings.resolved_home == tmp_path / "elsewhere"
    assert settings.effective_broker_url == "redis://127.0.0.1:6379/3"
    assert not settings.embedded_broker
    assert settings.effective_database_url == "postgresql+psycopg://postgres@127.0.0.1/x"
    assert settings.worker_concurrency == 8
    assert settings.heartbeat_interval == 0.5
    assert settings.jobtype_modules == ["my.jobs", "more.jobs"]


def test_empty_urls_mean_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBSYS_BROKER_URL", "")
    monkeypatch.setenv("JOBSYS_DATABASE_URL", "")
    settings = load_settings()
    assert settings.embedded_broker
    assert settings.effective_database_url.startswith("sqlite:///")


def test_output_and_log_dirs_can_live_elsewhere(tmp_path: Path) -> None:
    settings = load_settings(output_dir=tmp_path / "out", log_dir=tmp_path / "logs")
    assert settings.outputs_root == tmp_path / "out"
    assert settings.staging_root == tmp_path / ".staging", "beside outputs: rename stays atomic"
    assert settings.logs_root == tmp_path / "logs"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_toml_file_named_by_jobsys_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write(
        tmp_path / "conf.toml",
        'broker_url = "redis://127.0.0.1:6379/5"\nworker_concurrency = 4\n'
        'jobtype_modules = ["a.b"]\n',
    )
    monkeypatch.setenv("JOBSYS_CONFIG", str(config))
    settings = load_settings()
    assert settings.broker_url == "redis://127.0.0.1:6379/5"
    assert settings.worker_concurrency == 4
    assert settings.jobtype_modules == ["a.b"]


def test_environment_beats_toml_and_arguments_beat_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write(tmp_path / "conf.toml", "worker_concurrency = 4\ndefault_priority = 1\n")
    monkeypatch.setenv("JOBSYS_CONFIG", str(config))
    monkeypatch.setenv("JOBSYS_WORKER_CONCURRENCY", "6")
    settings = load_settings()
    assert (settings.worker_concurrency, settings.default_priority) == (6, 1)
    assert load_settings(worker_concurrency=9).worker_concurrency == 9


def test_jobsys_toml_in_the_current_directory_is_read(isolated_settings: Path) -> None:
    write(isolated_settings / "jobsys.toml", "worker_prefetch = 3\n")
    assert load_settings().worker_prefetch == 3


def test_an_unknown_key_in_the_toml_is_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write(tmp_path / "conf.toml", "worker_concurency = 4\n")  # sic: a typo
    monkeypatch.setenv("JOBSYS_CONFIG", str(config))
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.setting == "JOBSYS_WORKER_CONCURENCY"
    assert "JOBSYS_WORKER_CONCURENCY" in str(info.value)
    assert "not permitted" in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOBSYS_WORKER_CONCURRENCY", "0"),
        ("JOBSYS_WORKER_CONCURRENCY", "many"),
        ("JOBSYS_DEFAULT_PRIORITY", "10"),
        ("JOBSYS_HEARTBEAT_INTERVAL", "0"),
        ("JOBSYS_AUTO_MIGRATE", "perhaps"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.setting == variable
    assert str(info.value).startswith(f"setting {variable}: ")
    assert info.value.exit_code == 2


def test_a_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JOBSYS_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="JOBSYS_CONFIG=.*nope.toml: no such file") as info:
        load_settings()
    assert info.value.setting == "JOBSYS_CONFIG"


def test_a_malformed_config_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JOBSYS_CONFIG", str(write(tmp_path / "bad.toml", "worker_prefetch =\n")))
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_settings()
    assert info.value.setting == "JOBSYS_CONFIG"


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.worker_concurrency = 3  # type: ignore[misc]


def test_the_shipped_config_file_is_valid_and_states_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shipped = REPO / "config" / "jobsys.toml"
    assert shipped.is_file(), "config/jobsys.toml ships with the project"
    monkeypatch.setenv("JOBSYS_CONFIG", str(shipped))
    from_file = load_settings()
    monkeypatch.delenv("JOBSYS_CONFIG")
    assert from_file == Settings()


def test_the_shipped_config_file_lists_every_setting() -> None:
    text = (REPO / "config" / "jobsys.toml").read_text()
    keys = {line.lstrip("# ").partition(" =")[0] for line in text.splitlines() if " = " in line}
    assert set(Settings.model_fields) - keys == set()
