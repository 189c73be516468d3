"""``data.scan`` (``data.scan@1``): a root + ignore/glob/tag rules → the catalog's scout tables.

Streaming: one folder at a time with ``os.scandir`` and an explicit stack of folders
still to visit, so memory is bounded by the widest folder, not the tree. Each
folder's listing is compared with what the catalog holds for it: new files are
inserted, modified ones (size or mtime changed) updated, vanished ones deleted;
unchanged files are not written. Folders not seen in this scan (deleted) go with
their files at the end. Writes are batched and committed every ``COMMIT_EVERY`` rows.

Rules are gitignore-style patterns on the path relative to the root: ``ignore``
prunes files and folders, ``include`` (when given) keeps only matching files, and
``tags`` maps a tag to the patterns that give it. ``hash`` adds each new or modified
file's SHA-256.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec
from pydantic import BaseModel, Field

from jobsys import FatalJobError, JobContext, SourcePath, job_type
from tasks.data import catalog
from tasks.data._common import DATA_INVARIANTS, sha256_file

COMMIT_EVERY = 20_000


class ScanInput(BaseModel):
    """What to scan, and the rules."""

    root: SourcePath = Field(min_length=1)
    #: the source's name in the catalog (default: the root folder's name)
    source: str | None = None
    ignore: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)
    hash: bool = False
    catalog: SourcePath | None = None
    #: list at most this many catalogued files in the output (for a forEach over them)
    max_listed: int = Field(default=10_000, ge=0)
    #: list only files with this tag
    list_tag: str | None = None


class ScanOutput(BaseModel):
    """What the scan found and changed."""

    source: str
    root: str
    catalog: str
    scan_id: int
    files_total: int
    bytes_total: int
    folders: int
    new: int
    modified: int
    deleted: int
    unchanged: int
    errors: int
    files: list[str]
    files_truncated: bool


@dataclass
class _Counts:
    seen: int = 0
    new: int = 0
    modified: int = 0
    deleted: int = 0
    unchanged: int = 0
    folders: int = 0
    errors: list[str] = field(default_factory=list)
    pending: int = 0


@dataclass(frozen=True)
class _Rules:
    ignore: pathspec.PathSpec[Any]
    include: pathspec.PathSpec[Any] | None
    tags: tuple[tuple[str, pathspec.PathSpec[Any]], ...]

    @classmethod
    def of(cls, inputs: ScanInput) -> _Rules:
        def spec(lines: list[str]) -> pathspec.PathSpec[Any]:
            try:
                return pathspec.PathSpec.from_lines("gitignore", lines)
            except Exception as exc:
                raise FatalJobError(f"bad pattern in {lines}: {exc}") from exc

        return cls(
            spec(inputs.ignore),
            spec(inputs.include) if inputs.include else None,
            tuple((tag, spec(patterns)) for tag, patterns in sorted(inputs.tags.items())),
        )

    def tags_of(self, rel: str) -> str:
        return json.dumps([tag for tag, spec in self.tags if spec.match_file(rel)])


def _listing(
    folder: str, rel: str, rules: _Rules, counts: _Counts
) -> tuple[list[tuple[str, int, int]], list[tuple[str, str]]]:
    """Files (name, size, mtime_ns) and subfolders (path, rel) of one folder."""
    files: list[tuple[str, int, int]] = []
    subdirs: list[tuple[str, str]] = []
    try:
        entries = os.scandir(folder)
    except OSError as exc:
        counts.errors.append(f"{folder}: {exc.strerror or exc}")
        return files, subdirs
    ignore, include = rules.ignore, rules.include
    check_ignore = bool(ignore.patterns)
    with entries:
        for entry in entries:
            child = f"{rel}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not (check_ignore and ignore.match_file(child + "/")):
                        subdirs.append((entry.path, child + "/"))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                if check_ignore and ignore.match_file(child):
                    continue
                if include is not None and not include.match_file(child):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                counts.errors.append(f"{entry.path}: {exc.strerror or exc}")
                continue
            files.append((entry.name, st.st_size, st.st_mtime_ns))
    return files, subdirs


def _walk(
    root: str, rules: _Rules, counts: _Counts
) -> Iterator[tuple[str, str, list[tuple[str, int, int]]]]:
    """``(folder, rel, files)`` for every folder under ``root``, depth first."""
    stack = [(root, "")]
    while stack:
        folder, rel = stack.pop()
        files, subdirs = _listing(folder, rel, rules, counts)
        stack.extend(reversed(subdirs))
        yield folder, rel, files


class _Writer:
    """Folder-by-folder catalog updates, batched, with sink figures."""

    def __init__(
        self, conn: sqlite3.Connection, ctx: JobContext, source_id: int, scan_id: int, uri: str
    ) -> None:
        self.conn, self.ctx, self.source_id, self.scan_id, self.uri = (
            conn,
            ctx,
            source_id,
            scan_id,
            uri,
        )
        self.inserts: list[tuple[object, ...]] = []
        self.stamp = catalog.now()

    def folder(self, rel: str, count: int) -> int:
        row = self.conn.execute(
            "INSERT INTO scout_folders (source_id, path, scan_id, files) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source_id, path) DO UPDATE SET scan_id = excluded.scan_id, "
            "files = excluded.files RETURNING id",
            (self.source_id, rel, self.scan_id, count),
        ).fetchone()
        return int(row[0])

    def flush(self, counts: _Counts) -> None:
        start = time.perf_counter()
        rows = len(self.inserts)
        if self.inserts:
            self.conn.executemany(
                "INSERT INTO scout_files (source_id, folder_id, path, rel_path, name, ext, size, "
                "mtime_ns, sha256, tags, first_seen_at, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.inserts,
            )
            self.inserts = []
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")
        latency = (time.perf_counter() - start) * 1000
        self.ctx.metrics.sink(self.uri, "scout_files", counts.pending, rows * 120, latency)
        counts.pending = 0


def _apply(
    w: _Writer,
    folder: str,
    rel: str,
    files: list[tuple[str, int, int]],
    rules: _Rules,
    hashing: bool,
    counts: _Counts,
) -> None:
    """Bring one folder's catalogue rows in line with its listing."""
    folder_id = w.folder(rel, len(files))
    known = {
        name: (fid, size, mtime, sha, tags)
        for fid, name, size, mtime, sha, tags in w.conn.execute(
            "SELECT id, name, size, mtime_ns, sha256, tags FROM scout_files WHERE folder_id = ?",
            (folder_id,),
        )
    }
    for name, size, mtime in files:
        counts.seen += 1
        path = f"{folder}/{name}"
        tags = rules.tags_of(rel + name) if rules.tags else "[]"
        old = known.pop(name, None)
        if old is None:
            sha = sha256_file(Path(path)) if hashing else None
            stem, dot, ext = name.rpartition(".")
            ext = ext.lower() if dot and stem else ""
            w.inserts.append(
                (
                    w.source_id,
                    folder_id,
                    path,
                    rel + name,
                    name,
                    ext,
                    size,
                    mtime,
                    sha,
                    tags,
                    w.stamp,
                    w.stamp,
                )
            )
            counts.new += 1
            counts.pending += 1
            continue
        fid, old_size, old_mtime, old_sha, old_tags = old
        if old_size != size or old_mtime != mtime or (hashing and old_sha is None):
            sha = sha256_file(Path(path)) if hashing else None
            w.conn.execute(
                "UPDATE scout_files SET size = ?, mtime_ns = ?, sha256 = ?, tags = ?, "
                "changed_at = ? WHERE id = ?",
                (size, mtime, sha, tags, w.stamp, fid),
            )
            counts.modified += 1
            counts.pending += 1
        else:
            if tags != old_tags:
                w.conn.execute("UPDATE scout_files SET tags = ? WHERE id = ?", (tags, fid))
                counts.pending += 1
            counts.unchanged += 1
    if known:
        w.conn.executemany(
            "DELETE FROM scout_files WHERE id = ?", [(v[0],) for v in known.values()]
        )
        counts.deleted += len(known)
        counts.pending += len(known)


@job_type("data.scan", capability="data.scan@1", invariants=DATA_INVARIANTS)
def scan(inputs: ScanInput, ctx: JobContext) -> ScanOutput:
    """Catalogue the files under a root; a rescan writes only what changed."""
    root = Path(inputs.root).expanduser()
    if not root.is_dir():
        raise FatalJobError(f"scan root {root} is not a readable folder")
    root_text = str(root.resolve())
    source = inputs.source or root.resolve().name or "root"
    rules = _Rules.of(inputs)
    where = catalog.resolve(inputs.catalog, ctx)
    counts = _Counts()
    with catalog.connect(inputs.catalog, ctx) as conn:
        conn.execute(
            "INSERT INTO scout_sources (name, root, rules) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET root = excluded.root, rules = excluded.rules",
            (
                source,
                root_text,
                json.dumps(inputs.model_dump(include={"ignore", "include", "tags"})),
            ),
        )
        source_id, last = conn.execute(
            "SELECT id, last_scan_id FROM scout_sources WHERE name = ?", (source,)
        ).fetchone()
        scan_id = last + 1
        w = _Writer(conn, ctx, source_id, scan_id, f"sqlite://{where}#scout_files")
        for folder, rel, files in _walk(root_text, rules, counts):
            _apply(w, folder, rel, files, rules, inputs.hash, counts)
            counts.folders += 1
            if len(w.inserts) + counts.pending >= COMMIT_EVERY:
                w.flush(counts)
                ctx.progress.update(counts.seen, None, len(counts.errors))
        w.flush(counts)
        gone = conn.execute(
            "DELETE FROM scout_files WHERE folder_id IN (SELECT id FROM scout_folders "
            "WHERE source_id = ? AND scan_id < ?)",
            (source_id, scan_id),
        ).rowcount
        conn.execute(
            "DELETE FROM scout_folders WHERE source_id = ? AND scan_id < ?", (source_id, scan_id)
        )
        counts.deleted += gone
        total, size = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM scout_files WHERE source_id = ?",
            (source_id,),
        ).fetchone()
        conn.execute(
            "UPDATE scout_sources SET last_scan_id = ?, last_scan_at = ?, files = ?, bytes = ? "
            "WHERE id = ?",
            (scan_id, catalog.now(), total, size, source_id),
        )
        listed = _listed(conn, source_id, inputs)
    ctx.progress.update(counts.seen, counts.seen, len(counts.errors))
    for error in counts.errors[:20]:
        ctx.warn(f"not scanned: {error}")
    if len(counts.errors) > 20:
        ctx.warn(f"... and {len(counts.errors) - 20} more paths not scanned")
    if len(listed) > inputs.max_listed:
        ctx.warn(f"files lists the first {inputs.max_listed} files only (max_listed)")
    return ScanOutput(
        source=source,
        root=root_text,
        catalog=str(where),
        scan_id=scan_id,
        files_total=total,
        bytes_total=size,
        folders=counts.folders,
        new=counts.new,
        modified=counts.modified,
        deleted=counts.deleted,
        unchanged=counts.unchanged,
        errors=len(counts.errors),
        files=listed[: inputs.max_listed],
        files_truncated=len(listed) > inputs.max_listed,
    )


def _listed(conn: sqlite3.Connection, source_id: int, inputs: ScanInput) -> list[str]:
    sql = "SELECT path FROM scout_files WHERE source_id = ?"
    args: list[object] = [source_id]
    if inputs.list_tag:
        sql += " AND EXISTS (SELECT 1 FROM json_each(tags) WHERE value = ?)"
        args.append(inputs.list_tag)
    rows = conn.execute(sql + " ORDER BY path LIMIT ?", [*args, inputs.max_listed + 1])
    return [r[0] for r in rows]
