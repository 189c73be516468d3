"""Git as a source of manifests: fetch a repository into a working clone, read a commit.

``fetch(config)`` keeps a clone in ``config.workdir`` (dulwich, pure Python), fetches
every ref, checks out ``config.ref`` and returns the manifests matched by
``config.glob`` (gitignore-style, e.g. ``**/*.job.yaml``) read from that commit, as
documents of a git ``Source`` (repo, ref, commit, path relative to the repository).
``jobsys.client.Client.sync_git`` applies them through the same apply code as files.

Credentials come only from secret references: an HTTPS token (basic auth) or an SSH
private key. They are resolved for one fetch, handed to the transport, and never
written to the clone's config, a log or the store (an SSH key lives in a private
temporary file only while the fetch runs).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pathspec
from dulwich import porcelain
from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized, get_transport_and_path
from dulwich.errors import GitProtocolError, HangupException, NotGitRepository
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Blob, Commit, ObjectID
from dulwich.objectspec import parse_commit
from dulwich.refs import Ref
from dulwich.repo import Repo

from jobsys.errors import ConfigError
from jobsys.secrets import SecretResolver, SecretResolvers
from jobsys.workflows.apply import ApplyReport, Source
from jobsys.workflows.loader import DEFAULT_GLOB, Document, load_text

#: the ref in the clone naming the last commit applied from it
SYNCED_REF = Ref(b"refs/jobsys/synced")
#: the user name sent with an HTTPS token (GitHub accepts any; GitLab wants oauth2)
DEFAULT_USERNAME = "x-access-token"


@dataclass(frozen=True)
class GitConfig:
    """What to sync: repository URL (or path), ref, glob; credentials as secret references."""

    repo: str
    ref: str
    workdir: Path
    glob: str = DEFAULT_GLOB
    token: str | None = None
    ssh_key: str | None = None
    username: str = DEFAULT_USERNAME
    ssh_command: str | None = None

    @property
    def source_id(self) -> str:
        """``git:<repo-url>#<glob>``: the identity owning what this sync applies."""
        return f"git:{self.repo}#{self.glob}"


@dataclass(frozen=True)
class Checkout:
    """One fetched commit: its documents, and whether it was already applied."""

    commit: str
    source: Source
    docs: list[Document]
    already_synced: bool


def default_workdir(home: Path, repo: str) -> Path:
    """``<home>/git/<sha256 of the URL, 16 hex>``: one clone per repository."""
    return home / "git" / hashlib.sha256(repo.encode("utf-8")).hexdigest()[:16]


def fetch(config: GitConfig, secrets: SecretResolver | None = None) -> Checkout:
    """Fetch ``config.repo`` into the clone, check out ``config.ref``, read the manifests."""
    _check_url(config.repo)
    if config.token and config.ssh_key:
        raise ConfigError("give --token or --ssh-key, not both", setting="--token")
    repo = _open_clone(config)
    resolvers = secrets or SecretResolvers()
    try:
        with _credentials(config, resolvers) as creds:
            client, path = get_transport_and_path(config.repo, **creds)
            result = client.fetch(path, repo)
    except (HTTPUnauthorized, HTTPProxyUnauthorized) as exc:
        raise ConfigError(
            f"cannot fetch {config.repo}: authentication failed ({_reason(exc)})", setting="--token"
        ) from exc
    except (GitProtocolError, HangupException, NotGitRepository, OSError) as exc:
        raise ConfigError(f"cannot fetch {config.repo}: {_reason(exc)}", setting="--repo") from exc
    finally:
        repo.close()
    with Repo(str(config.workdir)) as repo:
        refs = {Ref(bytes(k)): ObjectID(bytes(v)) for k, v in result.refs.items() if v is not None}
        _store_refs(repo, refs)
        commit = _resolve(repo, refs, config.ref)
        porcelain.reset(repo, "hard", commit.id)
        synced = repo.refs.as_dict().get(SYNCED_REF)
        sha = commit.id.decode("ascii")
        source = Source("git", config.source_id, repo=config.repo, ref=config.ref, commit=sha)
        docs = _documents(repo, commit, config.glob)
        return Checkout(sha, source, docs, already_synced=synced == commit.id)


def mark_synced(config: GitConfig, commit: str) -> None:
    """Remember in the clone that ``commit`` was applied."""
    with Repo(str(config.workdir)) as repo:
        repo.refs[SYNCED_REF] = ObjectID(commit.encode("ascii"))


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.password is not None:
        raise ConfigError(
            "--repo: the URL carries a password; give it as --token secret://... instead",
            setting="--repo",
        )


def _open_clone(config: GitConfig) -> Repo:
    workdir = config.workdir
    if (workdir / ".git").is_dir():
        return Repo(str(workdir))
    workdir.mkdir(parents=True, exist_ok=True)
    repo = Repo.init(str(workdir))
    cfg = repo.get_config()
    cfg.set((b"remote", b"origin"), b"url", config.repo.encode("utf-8"))  # never credentials
    cfg.write_to_path()
    return repo


@contextmanager
def _credentials(config: GitConfig, resolvers: SecretResolver) -> Iterator[dict[str, Any]]:
    """Transport arguments for one fetch; an SSH key exists on disk only inside the block."""
    if config.token:
        yield {"username": config.username, "password": resolvers.resolve(config.token)}
        return
    extra: dict[str, Any] = {"ssh_command": config.ssh_command} if config.ssh_command else {}
    if not config.ssh_key:
        yield extra
        return
    key = resolvers.resolve(config.ssh_key)
    with tempfile.TemporaryDirectory(prefix="jobsys-ssh-") as folder:
        path = Path(folder) / "key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key if key.endswith("\n") else key + "\n")
        yield {**extra, "key_filename": str(path)}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _store_refs(repo: Repo, refs: dict[Ref, ObjectID]) -> None:
    for name, sha in refs.items():
        if name.endswith(b"^{}") or sha not in repo.object_store:
            continue
        if name.startswith(b"refs/heads/"):
            repo.refs[Ref(b"refs/remotes/origin/" + name.removeprefix(b"refs/heads/"))] = sha
        elif name.startswith(b"refs/tags/"):
            repo.refs[name] = sha


def _resolve(repo: Repo, refs: dict[Ref, ObjectID], ref: str) -> Commit:
    raw = ref.encode("utf-8")
    for name in (Ref(b"refs/heads/" + raw), Ref(b"refs/tags/" + raw), Ref(raw)):
        if name in refs:
            return parse_commit(repo, refs[name])
    try:
        return parse_commit(repo, raw)  # a commit id (or a unique prefix of one)
    except (KeyError, ValueError) as exc:
        heads = sorted(n.decode() for n in refs if n.startswith(b"refs/heads/"))
        known = ", ".join(h.removeprefix("refs/heads/") for h in heads) or "none"
        raise ConfigError(
            f"--ref {ref}: no such branch, tag or commit (branches: {known})", setting="--ref"
        ) from exc


def _documents(repo: Repo, commit: Commit, glob: str) -> list[Document]:
    try:
        spec = pathspec.PathSpec.from_lines("gitignore", [glob])
    except Exception as exc:  # pathspec's own error, or re.error from a bad [range]
        raise ConfigError(
            f"--glob {glob!r}: not a gitignore-style pattern: {exc}", setting="--glob"
        ) from exc
    docs: list[Document] = []
    entries = sorted(iter_tree_contents(repo.object_store, commit.tree), key=lambda e: e.path)
    for entry in entries:
        path = entry.path.decode("utf-8", errors="replace")  # git names are bytes
        if not stat.S_ISREG(entry.mode) or not spec.match_file(path):
            continue
        blob = repo.object_store[entry.sha]
        assert isinstance(blob, Blob)
        docs += load_text(blob.data.decode("utf-8", errors="replace"), path)
    return docs


@dataclass(frozen=True)
class SyncResult:
    """One sync: the commit, whether it was skipped (already applied), and the apply report."""

    commit: str
    skipped: bool
    report: ApplyReport

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {"commit": self.commit, "skipped": self.skipped, "report": self.report.to_dict()}
