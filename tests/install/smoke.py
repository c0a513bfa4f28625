"""Smoke test of an installed suolink wheel: what each extra promises, and what it does not.

Run by ``scripts/wheel-smoke.sh`` with the Python of a fresh virtual environment that has
the built wheel installed with one extra: ``python smoke.py EXTRA`` where EXTRA is
``bare``, ``flask``, ``django``, ``asgi``, ``qr``, ``redis``, ``postgres``, ``mysql``, ``detect``,
``all`` or several
joined by commas (``flask,qr``). It uses only
the standard library and what the extra installs (no pytest), runs in a temporary folder,
and exits non-zero at the first failed check, printing which one and its traceback.
Features of the extras that are *not* installed must fail with ``MissingDependencyError``
naming the extra, never with an ``ImportError`` from deep inside.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

EXTRAS = ("flask", "django", "asgi", "qr", "redis", "postgres", "mysql", "detect")
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47"
)
BIN = Path(sys.executable).parent


def installed(extra: str) -> set[str]:
    """The extras the environment was installed with (``all`` means every one)."""
    if extra == "bare":
        return set()
    if extra == "all":
        return set(EXTRAS)
    return set(extra.split(","))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> bytes:
    """The body of ``url`` once the server answers; fails if the process died first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:  # loopback only
                body: bytes = reply.read()
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def running(command: list[str]) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Run a server for the block's duration; it is always stopped, its output kept."""
    log = Path.cwd() / f"{Path(command[0]).name}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield process, log
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def expect_missing(extra: str, action: Callable[[], object]) -> None:
    """``action`` must raise MissingDependencyError naming ``extra`` and its pip line."""
    from suolink import MissingDependencyError

    caught: MissingDependencyError | None = None
    try:
        action()
    except MissingDependencyError as exc:
        caught = exc
    assert caught is not None, f"expected MissingDependencyError naming suolink[{extra}]"
    assert caught.extra == extra, (caught.extra, extra)
    assert f"suolink[{extra}]" in str(caught), str(caught)


# -- what every install promises --------------------------------------------------------


def check_installed_wheel() -> None:
    import suolink

    location = Path(suolink.__file__).resolve()
    assert Path(sys.prefix).resolve() in location.parents, f"not the installed wheel: {location}"
    files = {str(f) for f in importlib.metadata.distribution("suolink").files or ()}
    assert any(f.endswith(".dist-info/licenses/LICENSE") for f in files), "no LICENSE"
    assert "suolink/py.typed" in files
    assert importlib.metadata.metadata("suolink")["License-Expression"] == "MIT"


def check_core() -> None:
    from suolink import Shortener, Visitor

    for url in ("memory://", f"sqlite:///{Path.cwd() / 'smoke.db'}"):
        with Shortener(url, secret="smoke", base_url="https://s.example") as shortener:
            link = shortener.shorten("https://example.com/articles/42", tags=["smoke"])
            assert shortener.short_url(link) == f"https://s.example/{link.code}"
            redirect = shortener.resolve(link.code, Visitor(user_agent=SAFARI, ip="203.0.113.7"))
            assert redirect.status == 302, redirect
            assert dict(redirect.headers)["Location"] == "https://example.com/articles/42"
            guide = shortener.resolve(link.code, Visitor(user_agent=WECHAT, ip="203.0.113.8"))
            assert (guide.status, guide.reason) == (200, "guide"), guide
            assert shortener.resolve("nope1", Visitor()).status == 404
            assert shortener.stats(link.code).total == 2


def check_cli() -> None:
    """The ``suolink`` console script exists and works on SQLite with no extra."""
    env = {
        **os.environ,
        "SUOLINK_STORAGE": "sqlite:///cli.db",
        "SUOLINK_SECRET": "smoke",
        "SUOLINK_BASE_URL": "https://s.example",
    }
    run = [str(BIN / "suolink"), "shorten", "https://example.com/cli", "--code", "cli-1"]
    out = subprocess.run(run, capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "https://s.example/cli-1", out
    bad = subprocess.run(
        [str(BIN / "suolink"), "shorten", "javascript:alert(1)"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 1, bad.stderr
    assert "Traceback" not in bad.stderr, bad.stderr


def check_detect_core(has_detect: bool) -> None:
    from suolink.detect import Detector, available_resolvers, default_detector, detect

    client = detect(WECHAT)
    assert client.app == "wechat", client
    assert client.os == "ios", client
    if has_detect:
        assert available_resolvers()[0] == "rust", available_resolvers()
        assert default_detector().resolver == "rust"
        # The browser name and version come from ua-parser's rules.
        firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
        assert Detector(resolver="python").detect(firefox).browser == "Firefox"
        assert default_detector().detect(firefox).browser == "Firefox"
    else:
        assert available_resolvers() == ("none",), available_resolvers()
        assert default_detector().resolver == "none"
        expect_missing("detect", lambda: Detector(resolver="rust"))
        expect_missing("detect", lambda: Detector(resolver="python"))


# -- one check per extra, and what its absence looks like -------------------------------


def check_flask() -> None:
    from suolink.adapters.flask import create_app

    app = create_app("memory://", secret="smoke", api_token="s3cret")
    client = app.test_client()
    created = client.post(
        "/api/links",
        json={"url": "https://example.com/flask"},
        headers={"Authorization": "Bearer s3cret"},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    code = created.get_json()["code"]
    resolved = client.get(f"/{code}", headers={"User-Agent": SAFARI})
    assert resolved.status_code == 302, resolved
    assert resolved.location == "https://example.com/flask"

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(BIN / "suolink"), "serve", "--port", str(port), "--token", "s3cret"]
    command += ["--storage", "sqlite:///serve.db", "--secret", "smoke", "--app", "flask"]
    with running(command) as (process, log):
        try:
            health = json.loads(wait_for(f"{base}/api/health", process))
        except BaseException:
            print(log.read_text(errors="replace"), file=sys.stderr)
            raise
    assert health == {"status": "ok"}, health


def check_no_flask() -> None:
    from suolink import MissingDependencyError

    expect_missing("flask", lambda: __import__("suolink.adapters.flask"))
    try:
        __import__("suolink.adapters.flask")
    except MissingDependencyError as exc:
        message = str(exc)
    # Word for word what docs/installation.md shows.
    assert message == (
        "the Flask adapter needs the optional dependency 'flask': pip install 'suolink[flask]'"
    ), message


def check_django() -> None:
    import django
    from django.conf import settings
    from django.core.management import call_command

    urls = type(sys)("smoke_urls")
    sys.modules["smoke_urls"] = urls
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        SECRET_KEY="smoke",
        USE_TZ=True,
        ROOT_URLCONF="smoke_urls",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "suolink.adapters.django",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(Path.cwd() / "django.sqlite3"),
                "OPTIONS": {"transaction_mode": "IMMEDIATE"},
            }
        },
        SUOLINK={"SECRET": "smoke", "API_TOKEN": "s3cret"},
    )
    django.setup()
    from django.test import Client
    from django.urls import include, path

    urls.urlpatterns = [path("s/", include("suolink.adapters.django.urls"))]  # type: ignore[attr-defined]
    call_command("check", fail_level="WARNING")
    call_command("migrate", verbosity=0)
    client = Client()
    created = client.post(
        "/s/api/links",
        data=json.dumps({"url": "https://example.com/django"}),
        content_type="application/json",
        headers={"Authorization": "Bearer s3cret"},
    )
    assert created.status_code == 201, created.content
    code = created.json()["code"]
    resolved = client.get(f"/s/{code}", headers={"User-Agent": SAFARI})
    assert resolved.status_code == 302, resolved
    assert resolved["Location"] == "https://example.com/django"


def check_no_django() -> None:
    expect_missing("django", lambda: __import__("suolink.adapters.django"))


def check_asgi() -> None:
    """``suolink serve`` runs the ASGI app under uvicorn: it serves, and SIGTERM exits 0."""
    import signal

    from suolink.adapters.asgi import create_app

    create_app("memory://", secret="smoke", api_token="s3cret")  # imports and builds alone
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(BIN / "suolink"), "serve", "--port", str(port), "--workers", "2"]
    command += ["--storage", "sqlite:///asgi.db"]
    env = {**os.environ, "SUOLINK_SECRET": "smoke", "SUOLINK_API_TOKEN": "s3cret"}
    log = Path.cwd() / "asgi-serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        assert json.loads(wait_for(f"{base}/api/health", process)) == {"status": "ok"}
        request = urllib.request.Request(
            f"{base}/api/links",
            data=json.dumps({"url": "https://example.com/asgi"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer s3cret"},
        )
        with urllib.request.urlopen(request, timeout=5) as reply:  # loopback only
            code = json.loads(reply.read())["code"]

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        hop = urllib.request.Request(f"{base}/{code}", headers={"User-Agent": SAFARI})
        answer: tuple[int, str] | None = None
        try:
            urllib.request.build_opener(NoRedirect).open(hop, timeout=5)  # loopback only
        except urllib.error.HTTPError as exc:
            answer = (exc.code, exc.headers["Location"])
        assert answer == (302, "https://example.com/asgi"), answer
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text(errors="replace")
    except BaseException:
        print(log.read_text(errors="replace"), file=sys.stderr)
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "uvicorn, 2 workers" in log.read_text(errors="replace")


def check_no_asgi(has_flask: bool) -> None:
    expect_missing("asgi", lambda: __import__("suolink.adapters.asgi"))
    if has_flask:
        return  # `suolink serve` falls back to the Flask app (checked by check_flask)
    env = {**os.environ, "SUOLINK_SECRET": "smoke", "SUOLINK_STORAGE": "memory://"}
    result = subprocess.run(
        [str(BIN / "suolink"), "serve"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1, result
    assert "pip install 'suolink[asgi]'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def check_qr() -> None:
    from suolink import qr

    png = qr.encode("https://s.example/qr-1", format="png")
    assert png.startswith(b"\x89PNG"), png[:8]
    assert qr.decode(png) == ["https://s.example/qr-1"]
    svg = qr.encode("https://s.example/qr-1", format="svg")
    assert b"<svg" in svg[:200], svg[:200]


def check_no_qr() -> None:
    from suolink import qr

    expect_missing("qr", lambda: qr.encode("https://s.example/qr-1"))
    expect_missing("qr", lambda: qr.decode(b"\x89PNG\r\n\x1a\n"))


def check_redis() -> None:
    from suolink import BackendUnavailable, Shortener, Visitor
    from suolink.backends import open_storage

    try:
        open_storage("redis://127.0.0.1:1/0").check()
    except BackendUnavailable:
        pass
    else:
        raise AssertionError("a Redis URL with nothing behind it must be BackendUnavailable")
    server = os.environ.get("SUOLINK_SMOKE_REDIS_SERVER")
    if not server:
        print("  (no SUOLINK_SMOKE_REDIS_SERVER: the real-server part is skipped)")
        return
    port = free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(Path.cwd())]
    with running(command) as (process, log):
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    print(log.read_text(errors="replace"), file=sys.stderr)
                    raise
                time.sleep(0.05)
        with Shortener(f"redis://127.0.0.1:{port}/0", secret="smoke") as shortener:
            link = shortener.shorten("https://example.com/redis")
            decision = shortener.resolve(link.code, Visitor(user_agent=SAFARI))
            assert decision.status == 302, decision
            assert shortener.stats(link.code).redirects == 1


def check_no_redis() -> None:
    from suolink import Shortener
    from suolink.backends import open_storage

    expect_missing("redis", lambda: open_storage("redis://127.0.0.1:1/0"))
    expect_missing("redis", lambda: Shortener("redis+cluster://127.0.0.1:1"))


def _check_sql(scheme: str, variable: str) -> None:
    """An unreachable server is ``BackendUnavailable``; a real one (``variable``) works."""
    from suolink import BackendUnavailable, Shortener, Visitor
    from suolink.backends import open_storage

    try:
        open_storage(f"{scheme}://127.0.0.1:1/suolink?connect_timeout=1")
    except BackendUnavailable:
        pass
    else:
        raise AssertionError(f"a {scheme} URL with nothing behind it must be BackendUnavailable")
    url = os.environ.get(variable)
    if not url:
        print(f"  (no {variable}: the real-server part is skipped)")
        return
    with Shortener(url, secret="smoke") as shortener:
        link = shortener.shorten(f"https://example.com/{scheme}")
        decision = shortener.resolve(link.code, Visitor(user_agent=SAFARI))
        assert decision.status == 302, decision
        assert shortener.stats(link.code).redirects == 1


def check_postgres() -> None:
    _check_sql("postgresql", "SUOLINK_SMOKE_POSTGRES_URL")


def check_no_postgres() -> None:
    from suolink.backends import open_storage

    expect_missing("postgres", lambda: open_storage("postgresql://127.0.0.1:1/suolink"))


def check_mysql() -> None:
    _check_sql("mysql", "SUOLINK_SMOKE_MYSQL_URL")


def check_no_mysql() -> None:
    from suolink import Shortener

    expect_missing("mysql", lambda: Shortener("mariadb://127.0.0.1:1/suolink"))


def run_checks(extra: str) -> list[tuple[str, Callable[[], None]]]:
    """The checks for an environment installed with ``extra``, in order."""
    have = installed(extra)
    checks: list[tuple[str, Callable[[], None]]] = [
        ("installed wheel", check_installed_wheel),
        ("core: shorten and resolve on memory:// and sqlite:///", check_core),
        ("core: the suolink command", check_cli),
        ("detect", lambda: check_detect_core("detect" in have)),
    ]
    for name in ("flask", "django", "asgi", "qr", "redis", "postgres", "mysql"):
        present, absent = globals()[f"check_{name}"], globals()[f"check_no_{name}"]
        if name == "asgi":
            absent = functools.partial(check_no_asgi, "flask" in have)
        if name in have:
            checks.append((f"{name}: works", present))
        else:
            checks.append((f"{name}: missing extra is a clear error", absent))
    return checks


def main(argv: list[str]) -> int:
    known = {"bare", "all", *EXTRAS}
    if len(argv) != 2 or not set(argv[1].split(",")) <= known:
        print(f"usage: {argv[0]} bare|all|EXTRA[,EXTRA...] of {', '.join(EXTRAS)}", file=sys.stderr)
        return 2
    extra = argv[1]
    work = Path(tempfile.mkdtemp(prefix=f"suolink-smoke-{extra}-"))
    os.chdir(work)
    failed = 0
    try:
        for name, check in run_checks(extra):
            started = time.perf_counter()
            try:
                check()
            except BaseException:
                failed += 1
                print(f"FAIL [{extra}] {name}", flush=True)
                traceback.print_exc()
            else:
                elapsed = time.perf_counter() - started
                print(f"ok   [{extra}] {name} ({elapsed:.2f}s)", flush=True)
    finally:
        os.chdir("/")
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
