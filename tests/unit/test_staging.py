"""``.staging/<job_id>/`` and its publication by atomic rename."""

from __future__ import annotations

from pathlib import Path

from jobsys.execution.staging import Published, clear, output_path, publish, staging_path


def stage(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_paths(tmp_path: Path) -> None:
    assert staging_path(tmp_path / ".staging", "j1") == tmp_path / ".staging" / "j1"
    assert output_path(tmp_path / "out", "demo.echo", "j1") == tmp_path / "out" / "demo.echo" / "j1"


def test_publish_moves_the_staging_folder_into_place(tmp_path: Path) -> None:
    staging = stage(tmp_path / ".staging" / "j1", {"a.txt": "hello\n", "sub/b.bin": "xyz"})
    final = tmp_path / "outputs" / "demo.echo" / "j1"

    published = publish(staging, final)

    assert published == Published(
        path=str(final),
        size_bytes=len("hello\n") + len("xyz"),
        artifacts=[str(final / "a.txt"), str(final / "sub" / "b.bin")],
    )
    assert not staging.exists()
    assert (final / "a.txt").read_text() == "hello\n"
    assert (final / "sub" / "b.bin").read_text() == "xyz"


def test_publish_is_one_rename_the_files_keep_their_inodes(tmp_path: Path) -> None:
    staging = stage(tmp_path / ".staging" / "j1", {"big.dat": "x" * 10_000})
    inode = (staging / "big.dat").stat().st_ino
    final = tmp_path / "outputs" / "t" / "j1"
    publish(staging, final)
    assert (final / "big.dat").stat().st_ino == inode


def test_nothing_staged_publishes_nothing(tmp_path: Path) -> None:
    final = tmp_path / "outputs" / "t" / "j1"
    assert publish(tmp_path / ".staging" / "missing", final) is None
    empty = tmp_path / ".staging" / "empty"
    (empty / "only-dirs").mkdir(parents=True)
    assert publish(empty, final) is None
    assert not final.exists()


def test_republishing_replaces_the_earlier_outputs(tmp_path: Path) -> None:
    final = tmp_path / "outputs" / "t" / "j1"
    publish(stage(tmp_path / ".staging" / "j1", {"old.txt": "1", "same.txt": "old"}), final)

    second = publish(stage(tmp_path / ".staging" / "j1", {"same.txt": "new"}), final)

    assert second is not None and second.artifacts == [str(final / "same.txt")]
    assert sorted(p.name for p in final.iterdir()) == ["same.txt"]
    assert (final / "same.txt").read_text() == "new"
    assert [p.name for p in final.parent.iterdir()] == ["j1"], "no leftovers beside it"


def test_clear_removes_an_interrupted_attempts_files(tmp_path: Path) -> None:
    staging = stage(tmp_path / ".staging" / "j1", {"partial.txt": "half"})
    clear(staging)
    assert not staging.exists()
    clear(staging)  # already gone: fine
