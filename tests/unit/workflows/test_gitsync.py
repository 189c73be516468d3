"""Git sync against a bare repository made in the test: by path, over HTTP with a token, over SSH.

No server is mocked: HTTP is dulwich's own WSGI git server behind a basic-auth check in a
thread; SSH is a stand-in ``ssh`` program that records its arguments and runs the git
command locally (as ``ssh localhost git-upload-pack ...`` would).
"""

from __future__ import annotations

import ast
import base64
import stat
import sys
import textwrap
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from dulwich import porcelain
from dulwich.repo import Repo
from dulwich.server import DictBackend
from dulwich.web import make_wsgi_chain

from jobsys import Client
from jobsys.errors import ConfigError
from jobsys.settings import Settings
from jobsys.workflows.apply import Action
from jobsys.workflows.gitsync import GitConfig, default_workdir

PLANTED_TOKEN = "tok-3f9a-very-secret"
PLANTED_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nplanted-key-material-77\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def manifest(name: str, message: str = "hi") -> str:
    return (
        f"apiVersion: jobsys/v1\nkind: Job\nmetadata: {{name: {name}}}\n"
        f"steps:\n  - {{name: say, type: demo.echo, with: {{message: {message!r}}}}}\n"
    )


class Upstream:
    """A bare repository and a working copy that commits and pushes to it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True)
        self.bare = root / "origin.git"
        Repo.init_bare(str(self.bare), mkdir=True).close()
        self.work = root / "author"
        porcelain.init(str(self.work)).close()

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, remove) files, commit, push to ``main``; the commit id."""
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                porcelain.remove(str(self.work), [str(path)])
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            porcelain.add(str(self.work), [str(path)])
        sha = porcelain.commit(
            str(self.work), message=message, author=b"A <a@x>", committer=b"A <a@x>"
        )
        branch = porcelain.active_branch(str(self.work))
        porcelain.push(
            str(self.work),
            str(self.bare),
            [b"refs/heads/" + branch + b":refs/heads/main"],
            errstream=_Sink(),
        )
        return sha.decode("ascii")


class _Sink:
    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return Upstream(tmp_path / "upstream")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    with Client(Settings(home=tmp_path / "home")) as c:
        yield c


def config(client: Client, repo: str, **kw: Any) -> GitConfig:
    workdir = default_workdir(client.settings.resolved_home, repo)
    return GitConfig(repo=repo, ref="main", workdir=workdir, **kw)


def actions(changes: Iterable[Any]) -> list[tuple[str, str]]:
    return [(c.action.value, c.name) for c in changes]


def files_under(path: Path) -> str:
    """Every byte of every file under ``path``, as text (to look for planted secrets)."""
    return "".join(p.read_bytes().decode("latin-1") for p in path.rglob("*") if p.is_file())


def test_sync_applies_changes_adds_and_prunes_with_git_provenance(
    client: Client, upstream: Upstream
) -> None:
    first = upstream.commit(
        {
            "jobs/a.job.yaml": manifest("alpha"),
            "jobs/team/b.job.yaml": manifest("beta"),
            "README.md": "not a manifest",
            "other.yaml": manifest("ignored"),  # not matched by **/*.job.yaml
        }
    )
    cfg = config(client, str(upstream.bare))
    result = client.sync_git(cfg)
    assert (result.commit, result.skipped) == (first, False)
    assert actions(result.report.changes) == [("create", "alpha"), ("create", "beta")]
    row = client.template("alpha")
    assert row.source_id == f"git:{upstream.bare}#**/*.job.yaml"
    assert {k: row.provenance[k] for k in ("kind", "repo", "ref", "commit", "path")} == {
        "kind": "git",
        "repo": str(upstream.bare),
        "ref": "main",
        "commit": first,
        "path": "jobs/a.job.yaml",
    }
    assert (cfg.workdir / "jobs" / "team" / "b.job.yaml").is_file()  # a working clone

    again = client.sync_git(cfg)
    assert again.skipped and again.report.changes == ()

    second = upstream.commit(
        {
            "jobs/a.job.yaml": manifest("alpha", "changed"),
            "jobs/team/b.job.yaml": None,
            "c.job.yaml": manifest("gamma"),
        }
    )
    result = client.sync_git(cfg, prune=True)
    assert result.commit == second
    assert actions(result.report.changes) == [
        ("create", "gamma"),
        ("update", "alpha"),
        ("delete", "beta"),
    ]
    assert client.template("alpha").provenance["commit"] == second
    assert client.template("beta").status == "ARCHIVED"
    assert not (cfg.workdir / "jobs" / "team" / "b.job.yaml").exists()

    forced = client.sync_git(cfg, force=True)
    assert not forced.skipped
    assert [c.action for c in forced.report.changes] == [Action.UNCHANGED, Action.UNCHANGED]


def test_a_ref_can_be_a_tag_or_a_commit_and_an_unknown_ref_is_named(
    client: Client, upstream: Upstream
) -> None:
    old = upstream.commit({"a.job.yaml": manifest("alpha", "old")})
    upstream.commit({"a.job.yaml": manifest("alpha", "new")})
    porcelain.tag_create(str(upstream.bare), b"v1", objectish=old.encode())
    cfg = config(client, str(upstream.bare))
    by_tag = client.sync_git(GitConfig(repo=cfg.repo, ref="v1", workdir=cfg.workdir))
    assert by_tag.commit == old
    assert client.template("alpha").definition["steps"][0]["with"] == {"message": "old"}
    by_commit = GitConfig(repo=cfg.repo, ref=old[:12], workdir=cfg.workdir)
    assert client.sync_git(by_commit, force=True).commit == old
    with pytest.raises(
        ConfigError, match=r"--ref nope: no such branch, tag or commit \(branches: main\)"
    ):
        client.sync_git(GitConfig(repo=cfg.repo, ref="nope", workdir=cfg.workdir))


def test_an_unreachable_repository_and_a_url_with_a_password_are_config_errors(
    client: Client, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="cannot fetch"):
        client.sync_git(config(client, str(tmp_path / "missing.git")))
    with pytest.raises(ConfigError, match="--token secret://"):
        client.sync_git(config(client, "https://user:pw@example.invalid/r.git"))
    assert client.templates() == []


# --- HTTPS with a token --------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_repo(upstream: Upstream) -> Iterator[tuple[str, list[str]]]:
    """``(url, authorization headers seen)``: the bare repo over HTTP, basic auth required."""
    seen: list[str] = []
    served = Repo(str(upstream.bare))
    git_app = make_wsgi_chain(DictBackend({"/origin.git": served}))
    expected = "Basic " + base64.b64encode(f"x-access-token:{PLANTED_TOKEN}".encode()).decode()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "")
        seen.append(header)
        if header != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"unauthorized"]
        return git_app(environ, start_response)

    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/origin.git", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        served.close()


def test_an_https_token_comes_from_a_secret_and_is_never_written(
    client: Client,
    upstream: Upstream,
    http_repo: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = http_repo
    upstream.commit({"a.job.yaml": manifest("alpha")})
    monkeypatch.setenv("GIT_TOKEN", PLANTED_TOKEN)

    with pytest.raises(ConfigError, match="cannot fetch"):
        client.sync_git(config(client, url))  # no token: the server refuses

    cfg = config(client, url, token="secret://env/GIT_TOKEN")
    result = client.sync_git(cfg)
    assert actions(result.report.changes) == [("create", "alpha")]
    assert any(h.startswith("Basic ") for h in seen)
    assert PLANTED_TOKEN not in (cfg.workdir / ".git" / "config").read_text()
    assert PLANTED_TOKEN not in files_under(cfg.workdir / ".git")
    row = client.template("alpha")
    assert PLANTED_TOKEN not in repr(row._mapping)


def test_an_unset_token_secret_is_named_and_nothing_is_fetched(
    client: Client, http_repo: tuple[str, list[str]]
) -> None:
    url, seen = http_repo
    with pytest.raises(ConfigError, match="secret://env/JOBSYS_TEST_NO_SUCH_VAR"):
        client.sync_git(config(client, url, token="secret://env/JOBSYS_TEST_NO_SUCH_VAR"))
    assert seen == []


# --- SSH with a key ------------------------------------------------------------------------


FAKE_SSH = """\
import os, shlex, subprocess, sys
args = sys.argv[1:]
key = args[args.index("-i") + 1]
mode = os.stat(key).st_mode & 0o777
with open({record!r}, "a") as out:
    out.write(repr(args) + "\\n" + oct(mode) + "\\n" + open(key).read())
command = shlex.split(args[-1])
sys.exit(subprocess.call(command))
"""


def test_an_ssh_key_comes_from_a_secret_lives_only_during_the_fetch_and_is_never_written(
    client: Client, upstream: Upstream, tmp_path: Path
) -> None:
    upstream.commit({"a.job.yaml": manifest("alpha")})
    record = tmp_path / "ssh-record.txt"
    script = tmp_path / "fake-ssh.py"
    script.write_text(textwrap.dedent(FAKE_SSH.format(record=str(record))))
    key_file = tmp_path / "id_test"
    key_file.write_text(PLANTED_KEY)
    cfg = config(
        client,
        f"ssh://localhost{upstream.bare}",
        ssh_key=f"secret://file{key_file}",
        ssh_command=f"{sys.executable} {script}",
    )
    result = client.sync_git(cfg)
    assert actions(result.report.changes) == [("create", "alpha")]

    seen = record.read_text()
    assert "planted-key-material-77" in seen  # the transport got the resolved key
    assert "0o600" in seen  # in a file only its owner can read
    args = ast.literal_eval(seen.splitlines()[0])
    key_path = Path(args[args.index("-i") + 1])
    assert not key_path.exists() and not key_path.parent.exists()  # removed after the fetch
    assert "planted-key-material-77" not in files_under(cfg.workdir / ".git")
    assert stat.S_ISDIR(cfg.workdir.stat().st_mode)


def test_token_and_ssh_key_together_are_refused(client: Client, upstream: Upstream) -> None:
    cfg = config(client, str(upstream.bare), token="secret://env/A", ssh_key="secret://env/B")
    with pytest.raises(ConfigError, match="not both"):
        client.sync_git(cfg)
