"""``JobContext`` and its secret resolver, as a job type sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsys import JobContext
from jobsys.errors import ConfigError
from jobsys.secrets import SecretResolvers


def make(tmp_path: Path) -> JobContext:
    return JobContext("j1", "demo.echo", 2, tmp_path / ".staging" / "j1", tmp_path / "logs" / "j1")


def test_staging_is_created_on_first_use(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    assert not ctx.staging_path.exists()
    assert ctx.staging_dir == tmp_path / ".staging" / "j1"
    assert ctx.staging_dir.is_dir()


def test_the_logger_writes_the_jobs_own_log_file(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    try:
        ctx.logger.info("step %d of %d", 1, 3)
        ctx.warn("3 rows quarantined")
    finally:
        ctx.close()
    log = ctx.log_path.read_text()
    assert "INFO step 1 of 3" in log
    assert "WARNING 3 rows quarantined" in log
    assert ctx.warnings == ["3 rows quarantined"]


def test_progress_keeps_the_last_figures(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    ctx.progress.update(5, 10)
    ctx.progress.update(7, failed=1)
    assert vars(ctx.progress) == {"processed": 7, "total": 10, "failed": 1}


def test_secrets_resolve_from_the_environment_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBSYS_TEST_TOKEN", "t0k3n")
    (tmp_path / "key").write_text("from-a-file\n")
    secrets = make(tmp_path).secrets
    assert secrets.resolve("secret://env/JOBSYS_TEST_TOKEN") == "t0k3n"
    assert secrets.resolve(f"secret://file{tmp_path / 'key'}") == "from-a-file"


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("plain-value", "is not a secret reference"),
        ("secret://vault/x", "unknown secret scheme 'vault' (known: env, file)"),
        ("secret://env/", "unknown secret scheme"),
        ("secret://env/JOBSYS_TEST_UNSET_VARIABLE", "JOBSYS_TEST_UNSET_VARIABLE is not set"),
        ("secret://file/no/such/file", "secret://file/no/such/file: No such file"),
    ],
)
def test_unresolvable_secrets_are_config_errors(ref: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        SecretResolvers().resolve(ref)
    assert words in str(info.value)


def test_more_schemes_can_be_registered() -> None:
    resolvers = SecretResolvers()
    resolvers.register("vault", lambda key: f"vault:{key}")
    assert resolvers.resolve("secret://vault/db/password") == "vault:db/password"
    assert resolvers.schemes == {"env", "file", "vault"}
