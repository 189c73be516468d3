"""Data benchmark: SCAN, CSV → Parquet PARSE and FIX PARSE, each against a baseline in the same run.

- scan: ``data.scan`` of generated trees (50,000 and 200,000 empty files, 100 to a
  folder) vs ``find ROOT -type f | wc -l``: files/s of each, ``ratio`` (scan/find), and
  the scan's peak RSS at both sizes (bounded memory: it must not grow with the tree);
  a rescan of the unchanged 200k tree too;
- csv: ``data.parse`` (csv parser, typed by a contract, lineage columns, zstd Parquet) of
  a generated ~1 GB CSV vs pyarrow's own ``csv.read_csv`` + ``parquet.write_table`` with
  the same column types: rows/s, MB/s, ``ratio`` (parse/pyarrow) and each one's peak RSS;
- fix: ``data.parse`` (fix parser) of 1,000,000 FIX messages: messages/s and rows/s.

Every measurement runs in its own Python process, so each peak RSS is its own. The job
types are called as plain functions (no broker, no store): this measures the work.

    python benchmarks/data.py [--files 200000] [--csv-mb 1024] [--fix 1000000] [--only scan,csv,fix]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import jobsys.testing, pyarrow.csv, pyarrow.parquet, tasks.data.parse, tasks.data.scan  # untimed
start = time.perf_counter()
result = {code}
result = dict(result or {{}})
result["seconds"] = time.perf_counter() - start
result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""

SCAN = """(lambda: (lambda out: {{"files": out.files_total}})(
    __import__("tasks.data.scan", fromlist=["scan"]).scan(
        __import__("tasks.data.scan", fromlist=["ScanInput"]).ScanInput(
            root={tree!r}, catalog={catalog!r}, max_listed=0),
        __import__("jobsys.testing", fromlist=["make_context"]).make_context(
            __import__("pathlib").Path({work!r})))))()"""

PARSE = """(lambda: (lambda out: {{"rows": out.rows, "quarantined": out.quarantined}})(
    __import__("tasks.data.parse", fromlist=["parse"]).parse(
        __import__("tasks.data.parse", fromlist=["ParseInput"]).ParseInput(
            path={path!r}, parser={parser!r}, contract={contract}, catalog={catalog!r},
            schema_policy="off"),
        __import__("jobsys.testing", fromlist=["make_context"]).make_context(
            __import__("pathlib").Path({work!r})))))()"""

BASELINE = """(lambda pa, pacsv, pq, c: (lambda t: (pq.write_table(t, {out!r}, compression="zstd"),
    {{"rows": t.num_rows}})[1])(pacsv.read_csv({path!r},
        convert_options=pacsv.ConvertOptions(column_types=c.arrow_schema()))))(
    __import__("pyarrow"), __import__("pyarrow.csv", fromlist=["csv"]),
    __import__("pyarrow.parquet", fromlist=["parquet"]),
    __import__("tasks.data.samples", fromlist=["TRADES"]).TRADES)"""


def child(code: str) -> dict[str, float]:
    """Run ``code`` (an expression returning a dict) in a fresh interpreter; its figures."""
    text = CHILD.format(root=str(ROOT), code=code)
    proc = subprocess.run([sys.executable, "-c", text], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def find_rate(tree: Path, printf: str = "") -> tuple[int, float]:
    """Files counted by ``find ROOT -type f [-printf ...] | wc -l`` and the seconds it took."""
    start = time.perf_counter()
    out = subprocess.run(
        f"find {tree} -type f {printf} | wc -l",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip()), time.perf_counter() - start


def bench_scan(work: Path, sizes: list[int]) -> None:
    from tasks.data import samples

    for n in sizes:
        tree = work / f"tree_{n}"
        t0 = time.perf_counter()
        samples.write_tree(tree, n, per_folder=100)
        print(f"scan: generated {n:,} files in {time.perf_counter() - t0:.1f}s")
        subprocess.run(["sync"], check=False)
        find_rate(tree)  # warm the dentry cache for both, as a rescan would find it
        count, find_s = find_rate(tree)
        _, stat_s = find_rate(tree, "-printf '%p %s %T@\\n'")  # find that stats, as scan must
        catalog = str(work / f"catalog_{n}.sqlite")
        code = SCAN.format(tree=str(tree), catalog=catalog, work=str(work))
        first = child(code)
        again = child(code)
        rate, base = first["files"] / first["seconds"], count / find_s
        print(
            f"scan {n:,} files: find {base:,.0f} files/s ({find_s:.2f}s) | data.scan "
            f"{rate:,.0f} files/s ({first['seconds']:.2f}s) ratio {rate / base:.2f} | "
            f"peak RSS {first['peak_rss_mb']:.0f} MB | rescan (unchanged) "
            f"{again['files'] / again['seconds']:,.0f} files/s, "
            f"peak RSS {again['peak_rss_mb']:.0f} MB"
        )
        print(
            f"scan {n:,} files: find -printf size,mtime {count / stat_s:,.0f} files/s "
            f"({stat_s:.2f}s): data.scan ratio {rate / (count / stat_s):.2f} against it"
        )
        shutil.rmtree(tree)


def make_csv(path: Path, megabytes: int) -> int:
    """A CSV of TRADES rows of about ``megabytes`` MB (a block of rows written repeatedly)."""
    from tasks.data import samples

    block = samples.trade_rows(100_000)
    names = list(block[0])
    lines = "".join(",".join(str(r[k]) for k in names) + "\n" for r in block).encode()
    rows = 0
    with path.open("wb") as out:
        out.write((",".join(names) + "\n").encode())
        while out.tell() < megabytes * 1_000_000:
            out.write(lines)
            rows += len(block)
    return rows


def bench_csv(work: Path, megabytes: int) -> None:
    from tasks.data import samples

    path = work / "trades.csv"
    t0 = time.perf_counter()
    rows = make_csv(path, megabytes)
    size_mb = path.stat().st_size / 1_000_000
    print(f"csv: generated {size_mb:,.0f} MB, {rows:,} rows in {time.perf_counter() - t0:.1f}s")
    base = child(BASELINE.format(path=str(path), out=str(work / "baseline.parquet")))
    contract = f"{samples.TRADES.model_dump()!r}"
    ours = child(
        PARSE.format(
            path=str(path),
            parser="csv",
            contract=contract,
            catalog=str(work / "c.sqlite"),
            work=str(work),
        )
    )
    for label, r in (("pyarrow read_csv+write_table", base), ("data.parse csv", ours)):
        print(
            f"csv {label}: {r['rows'] / r['seconds']:,.0f} rows/s, "
            f"{size_mb / r['seconds']:,.1f} MB/s "
            f"({r['seconds']:.1f}s), peak RSS {r['peak_rss_mb']:,.0f} MB"
        )
    print(f"csv ratio (data.parse / pyarrow): {base['seconds'] / ours['seconds']:.2f}")
    path.unlink()


def bench_fix(work: Path, messages: int) -> None:
    from tasks.data import samples

    path = work / "fix.log"
    t0 = time.perf_counter()
    samples.write_fix_log(path, messages)
    print(f"fix: generated {messages:,} messages in {time.perf_counter() - t0:.1f}s")
    ours = child(
        PARSE.format(
            path=str(path),
            parser="fix",
            contract=None,
            catalog=str(work / "c.sqlite"),
            work=str(work),
        )
    )
    print(
        f"fix data.parse: {messages / ours['seconds']:,.0f} messages/s, "
        f"{ours['rows'] / ours['seconds']:,.0f} rows/s ({ours['rows']:,} rows, "
        f"{ours['seconds']:.1f}s), peak RSS {ours['peak_rss_mb']:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--csv-mb", type=int, default=1024)
    parser.add_argument("--fix", type=int, default=1_000_000)
    parser.add_argument("--only", default="scan,csv,fix")
    args = parser.parse_args()
    which = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="jobsys-bench-data-"))
    try:
        if "scan" in which:
            bench_scan(work, [args.files // 4, args.files])
        if "csv" in which:
            bench_csv(work, args.csv_mb)
        if "fix" in which:
            bench_fix(work, args.fix)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
