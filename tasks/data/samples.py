"""Sample data generators: FIX logs, typed CSV and JSON Lines, and file trees.

Used by ``jobsys demo``, the tests and ``benchmarks/data.py``; deterministic for a seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

from tasks.data.contracts import Column, TableContract

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "IBM")

#: the contract of ``write_csv``'s and ``write_jsonl``'s rows
TRADES = TableContract(
    table="trades",
    columns=[
        Column(name="trade_id", type="int64", nullable=False),
        Column(name="symbol", type="string", nullable=False),
        Column(name="price", type="float64", nullable=False),
        Column(name="quantity", type="int64", nullable=False),
        Column(name="traded_at", type="timestamp[us, tz=UTC]", nullable=False),
        Column(name="venue", type="string"),
    ],
)

_START = dt.datetime(2024, 1, 15, 14, 30, tzinfo=dt.UTC)


def fix_message(
    fields: list[tuple[str, str]], delimiter: str = "\x01", version: str = "4.2"
) -> str:
    """A FIX message with correct BodyLength (9) and CheckSum (10) around ``fields``."""
    body = "".join(f"{tag}={value}\x01" for tag, value in fields)
    head = f"8=FIX.{version}\x019={len(body)}\x01"
    checksum = sum((head + body).encode()) % 256
    return (head + body + f"10={checksum:03d}\x01").replace("\x01", delimiter)


def fix_messages(n: int, seed: int = 0, delimiter: str = "\x01") -> list[str]:
    """``n`` messages: orders and their executions, a heartbeat now and then."""
    rng = random.Random(seed)
    out: list[str] = []
    for seq in range(1, n + 1):
        when = (_START + dt.timedelta(milliseconds=seq * 37)).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]
        common = [("34", str(seq)), ("49", "CLIENT"), ("56", "BROKER"), ("52", when)]
        symbol, side = rng.choice(SYMBOLS), rng.choice("12")
        kind = seq % 10
        if kind == 9:
            fields = [("35", "0"), *common]
        elif kind % 2 == 0:
            qty, px = rng.randint(1, 50) * 100, round(rng.uniform(10, 500), 2)
            fields = [("35", "D"), *common, ("11", f"ORD{seq}"), ("55", symbol), ("54", side)]
            fields += [("38", str(qty)), ("40", "2"), ("44", f"{px:.2f}")]
        else:
            qty, px = rng.randint(1, 50) * 100, round(rng.uniform(10, 500), 2)
            fields = [("35", "8"), *common, ("37", f"X{seq}"), ("17", f"E{seq}")]
            fields += [("11", f"ORD{seq - 1}"), ("150", "F"), ("39", "2"), ("55", symbol)]
            fields += [("54", side), ("32", str(qty)), ("31", f"{px:.2f}"), ("14", str(qty))]
            fields += [("6", f"{px:.2f}")]
        out.append(fix_message(fields, delimiter))
    return out


def write_fix_log(
    path: Path, n: int, seed: int = 0, delimiter: str = "\x01", timestamps: bool = True
) -> Path:
    """A FIX log of ``n`` messages, one per line (``timestamps``: a log-time prefix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="ascii", newline="\n") as out:
        for i, message in enumerate(fix_messages(n, seed, delimiter)):
            prefix = f"2024-01-15 14:30:{i % 60:02d}.000 : " if timestamps else ""
            out.write(prefix + message + "\n")
    return path


def trade_rows(n: int, seed: int = 0) -> list[dict[str, object]]:
    """``n`` rows matching ``TRADES``."""
    rng = random.Random(seed)
    return [
        {
            "trade_id": i,
            "symbol": rng.choice(SYMBOLS),
            "price": round(rng.uniform(10, 500), 2),
            "quantity": rng.randint(1, 1000),
            "traded_at": (_START + dt.timedelta(seconds=i)).isoformat(),
            "venue": rng.choice(("XNAS", "XNYS", "")),
        }
        for i in range(1, n + 1)
    ]


def write_csv(path: Path, n: int, seed: int = 0) -> Path:
    """A CSV of ``n`` ``TRADES`` rows with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [c.name for c in TRADES.columns]
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(",".join(names) + "\n")
        for row in trade_rows(n, seed):
            out.write(",".join(str(row[k]) for k in names) + "\n")
    return path


def write_jsonl(path: Path, n: int, seed: int = 0) -> Path:
    """A JSON Lines file of ``n`` ``TRADES`` rows (an empty venue is null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in trade_rows(n, seed):
            out.write(json.dumps({**row, "venue": row["venue"] or None}) + "\n")
    return path


def write_tree(root: Path, files: int, per_folder: int = 100, size: int = 0) -> Path:
    """``files`` files of ``size`` bytes, ``per_folder`` to a folder, two folder levels deep."""
    payload = b"x" * size
    for i in range(files):
        folder = root / f"d{i // (per_folder * 100):03d}" / f"d{(i // per_folder) % 100:02d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:07d}.log").write_bytes(payload)
    return root
