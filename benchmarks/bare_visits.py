"""A bare SQLite visit log: the least a redirect service that keeps its visits must write.

The baseline ``bench_resolve.py --sqlite`` measures suolink's background group commit
against, in the same run and on the same file system: a dict lookup per redirect, and a
writer thread that commits what is queued (up to ``BATCH`` visits) in one transaction —
each visit's row (link, time, address, user agent) with one index to list a link's visits
by time, and each link's count. It is given suolink's own batch tricks (rows sorted by
link, multi-row ``VALUES`` of up to 256 rows, the counts in one statement), so the ratio
is what suolink's other work costs: the detection, the rules, and the statistics it keeps.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter

#: Visits one transaction writes at most, and the queue's bound (suolink background mode's).
BATCH = 4096
_ROWS = 256
_SCHEMA = (
    "CREATE TABLE links (code TEXT PRIMARY KEY, url TEXT NOT NULL, visits INTEGER NOT NULL)",
    "CREATE TABLE visits (id INTEGER PRIMARY KEY, code TEXT NOT NULL, at_us INTEGER NOT NULL,"
    " ip TEXT, user_agent TEXT)",
    "CREATE INDEX visits_by_code ON visits (code, at_us)",
)
_INSERT = "INSERT INTO visits (code, at_us, ip, user_agent) VALUES "
_COUNT = "UPDATE links SET visits = visits + j.value FROM json_each(?) AS j WHERE code = j.key"


class BareVisitLog:
    """Links in a dict, visits queued and written by one thread (``flush`` waits for it)."""

    def __init__(self, path: str, links: dict[str, str]) -> None:
        self.links = links
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        for statement in _SCHEMA:
            self._conn.execute(statement)
        self._conn.executemany(
            "INSERT INTO links (code, url, visits) VALUES (?, ?, 0)", links.items()
        )
        self._queue: list[tuple[str, int, str | None, str]] = []
        self._busy = False
        self._closing = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._write_forever, daemon=True)
        self._thread.start()

    def redirect(self, code: str, ip: str | None, user_agent: str) -> str | None:
        """The target of ``code`` (None if unknown), its visit queued."""
        url = self.links.get(code)
        if url is None:
            return None
        visit = (code, time.time_ns() // 1000, ip, user_agent)
        with self._changed:
            while len(self._queue) >= BATCH:
                self._changed.wait()
            self._queue.append(visit)
            if len(self._queue) >= _ROWS:
                self._changed.notify_all()
        return url

    def flush(self) -> None:
        with self._changed:
            self._changed.notify_all()
            while self._queue or self._busy:
                self._changed.wait()

    def visits(self) -> int:
        return int(self._conn.execute("SELECT SUM(visits) FROM links").fetchone()[0] or 0)

    def close(self) -> None:
        self.flush()
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()
        self._conn.close()

    def _write_forever(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait(0.002)
                if self._closing and not self._queue:
                    return
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
                self._busy = True
                self._changed.notify_all()
            try:
                self._write(batch)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _write(self, batch: Sequence[tuple[str, int, str | None, str]]) -> None:
        rows = sorted(batch, key=itemgetter(0))
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        for start in range(0, len(rows), _ROWS):
            chunk = rows[start : start + _ROWS]
            flat = [value for row in chunk for value in row]
            conn.execute(_INSERT + ", ".join(["(?, ?, ?, ?)"] * len(chunk)), flat)
        conn.execute(_COUNT, (json.dumps(Counter(row[0] for row in rows)),))
        conn.execute("COMMIT")
