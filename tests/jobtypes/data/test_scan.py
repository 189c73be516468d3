"""data.scan: the scout tables, rules and tags, and a rescan that writes only what changed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from jobsys import FatalJobError
from tasks.data import samples
from tasks.data.catalog import Selection, select_files
from tasks.data.scan import ScanInput, scan
from tests.jobtypes.conftest import MakeContext


def _rows(catalog: str, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(catalog) as db:
        return db.execute(sql).fetchall()


def test_scan_catalogues_files_with_rules_tags_and_hashes(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    root = samples.write_tree(tmp_path / "tree", 250, per_folder=50, size=3)
    (root / "notes.txt").write_text("hello")
    (root / "cache").mkdir()
    (root / "cache" / "big.log").write_text("ignored")
    out = scan(
        ScanInput(
            root=str(root),
            ignore=["cache/"],
            tags={"logs": ["*.log"], "notes": ["*.txt"]},
            hash=True,
            catalog=catalog,
        ),
        make_context("data.scan"),
    )
    assert (out.files_total, out.new, out.deleted, out.errors) == (251, 251, 0, 0)
    assert out.bytes_total == 250 * 3 + 5
    assert out.folders == 7  # the root, d000, its 5 subfolders; cache/ pruned
    note = _rows(
        catalog, "SELECT rel_path, size, sha256, tags, ext FROM scout_files WHERE name='notes.txt'"
    )
    assert note == [
        (
            "notes.txt",
            5,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            '["notes"]',
            "txt",
        )
    ]
    assert _rows(catalog, "SELECT name, files FROM scout_sources") == [("tree", 251)]
    assert select_files(catalog, make_context(), Selection(tag="notes")) == [
        str(root.resolve() / "notes.txt")
    ]
    assert len(select_files(catalog, make_context(), Selection(glob="d000/d01/*.log"))) == 50
    query = "SELECT path FROM scout_files WHERE size > 4"
    assert select_files(catalog, make_context(), Selection(query=query)) == [
        str(root.resolve() / "notes.txt")
    ]


def test_rescan_updates_only_what_changed(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    root = samples.write_tree(tmp_path / "tree", 120, per_folder=40)
    inputs = ScanInput(root=str(root), catalog=catalog)
    scan(inputs, make_context("data.scan"))
    before = dict(_rows(catalog, "SELECT rel_path, id FROM scout_files"))
    changed = root / "d000" / "d00" / "f0000001.log"
    changed.write_text("now longer")
    os.utime(changed, ns=(1, 2))
    (root / "d000" / "d01" / "f0000041.log").unlink()
    for f in (root / "d000" / "d02").iterdir():  # a whole folder goes
        f.unlink()
    (root / "d000" / "d02").rmdir()
    (root / "d000" / "new.log").write_text("new")
    out = scan(inputs, make_context("data.scan"))
    assert (out.new, out.modified, out.deleted, out.unchanged) == (1, 1, 41, 78)
    assert out.files_total == 80
    after = dict(_rows(catalog, "SELECT rel_path, id FROM scout_files"))
    kept = set(before) & set(after)
    assert all(before[k] == after[k] for k in kept)  # rows updated in place, not rewritten
    assert _rows(catalog, "SELECT size, mtime_ns FROM scout_files WHERE name='f0000001.log'") == [
        (10, 2)
    ]
    again = scan(inputs, make_context("data.scan"))
    assert (again.new, again.modified, again.deleted, again.unchanged) == (0, 0, 0, 80)


def test_scan_of_a_missing_root_fails(
    make_context: MakeContext, tmp_path: Path, catalog: str
) -> None:
    with pytest.raises(FatalJobError, match="is not a readable folder"):
        scan(ScanInput(root=str(tmp_path / "nope"), catalog=catalog), make_context("data.scan"))


def test_listing_is_capped(make_context: MakeContext, tmp_path: Path, catalog: str) -> None:
    root = samples.write_tree(tmp_path / "tree", 30, per_folder=10)
    ctx = make_context("data.scan")
    out = scan(ScanInput(root=str(root), catalog=catalog, max_listed=7), ctx)
    assert len(out.files) == 7 and out.files_truncated and out.files_total == 30
    assert ctx.warnings == ["files lists the first 7 files only (max_listed)"]
