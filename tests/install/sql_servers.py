"""Throwaway PostgreSQL and MariaDB servers for ``scripts/wheel-smoke.sh``.

``python -m tests.install.sql_servers`` starts one of each (when its binaries are
installed), prints a fresh database URL per line (an empty line for a server it could
not start), then waits until it is killed, and stops them.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import suppress

from tests.backends.sql_servers import MariaDB, Postgres


def main() -> int:
    started: list[Postgres | MariaDB] = []
    urls = []
    for kind in (Postgres, MariaDB):
        try:
            server = kind()
            server.start()
        except Exception as exc:  # no binaries, no permission: that extra skips its part
            print(f"{kind.__name__}: {exc}", file=sys.stderr)
            urls.append("")
            continue
        started.append(server)
        urls.append(server.database("suolink") if isinstance(server, MariaDB) else server.url)
    print("\n".join(urls), flush=True)
    sys.stdout.close()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with suppress(KeyboardInterrupt):
        done.wait()
    for server in started:
        server.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
