"""Run the examples of README.md and docs/*.md, so the docs cannot drift from the code.

Standard library only: ``tests/docs/test_examples.py`` drives it under pytest, and
``scripts/wheel-smoke.sh`` runs it in the per-extra environments of the built wheel
(``python examples.py --extras flask,qr PAGE...``, where pytest is not installed), each
block in the smallest of those environments that can run it (``--envs``, the list of
them all: a core block is proven in the bare install, not again in the ten others).

Which blocks run: fenced ``python``, ``sh``, ``bash`` and ``console`` blocks; ``text``,
``json`` and the rest are shown, not run. An HTML comment, invisible on the site, sets
options for the page (``<!-- examples: ... -->`` anywhere on it) or for the next block
(``<!-- example: ... -->`` on the lines just above its fence):

- ``env=flask,qr`` the extras the block needs (default ``core``: none). The dev
  environment has them all; a per-extra environment runs the blocks it can.
- ``skip reason=...`` the block is not run, for the reason given (``pip install``, a
  production server, a project of your own).
- ``output=ignore reason=...`` the block runs and must succeed; its output is not
  compared (it depends on what happened before it that the page does not show).
- ``django`` Python blocks run with Django set up (a minimal project: suolink's app,
  SQLite in the page's folder, migrated), as settings and views would be.

How they run: every page is a session in its own temporary folder. Its Python blocks run
in order in one namespace, like a doctest session; a ``print(...)  # text`` line checks
that what it printed matches ``text`` (up to the first ``": "``, ``" ("`` or ``" — "``
of the comment, with ``<placeholder>``, ``...`` and ``…`` matching anything). Shell
blocks run in bash with ``suolink`` on PATH (this Python's ``-m suolink``), in a network
namespace of their own where unprivileged namespaces are available (loopback only,
ports free), and ``set -e``; a line that starts ``suolink serve`` runs in the background
until its port answers and is stopped with the block. ``console`` blocks compare each
``$ command``'s output with the lines below it (a line ``...`` matches any lines).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import functools
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tokenize
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = {"python", "sh", "bash", "console"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"<!--\s*(?P<scope>examples?):\s*(?P<body>.*?)\s*-->", re.S)
SHELL_TIMEOUT = 120
SERVE_LINE = re.compile(r"^\s*suolink\s+serve\b")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced example: where it is, its language, its code and its options."""

    page: str
    line: int
    lang: str
    code: str
    options: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    def option(self, name: str, default: str | None = None) -> str | None:
        return dict(self.options).get(name, default)

    @property
    def extras(self) -> frozenset[str]:
        env = self.option("env", "core") or "core"
        return frozenset(e for e in env.split(",") if e and e != "core")

    @property
    def skip_reason(self) -> str | None:
        if self.option("skip") is None:
            return None
        return self.option("reason") or "no reason given"


@dataclasses.dataclass
class Result:
    """What running one block gave: ``ok``, ``failed`` (with why) or ``skipped``."""

    id: str
    status: str
    message: str = ""


def parse_options(body: str) -> dict[str, str]:
    """``skip reason=the rest`` → {"skip": "", "reason": "the rest"}."""
    options: dict[str, str] = {}
    words = body.split()
    for i, word in enumerate(words):
        key, _, value = word.partition("=")
        if key == "reason":
            options["reason"] = " ".join([value, *words[i + 1 :]]).strip()
            break
        options[key] = value
    return options


def parse_page(path: Path, root: Path = ROOT) -> list[Block]:
    """The runnable blocks of one Markdown page, with the page's and their own options."""
    lines = path.read_text(encoding="utf-8").splitlines()
    text = "\n".join(lines)
    page_options: dict[str, str] = {}
    for marker in MARKER.finditer(text):
        if marker["scope"] == "examples":
            page_options.update(parse_options(marker["body"]))
    blocks: list[Block] = []
    pending: dict[str, str] = {}
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        marker = MARKER.search(lines[i])
        if marker and marker["scope"] == "example":
            pending = parse_options(marker["body"])
        if not fence:
            if lines[i].strip() and not marker:
                pending = {}
            i += 1
            continue
        indent, lang, start = len(fence["indent"]), fence["lang"], i + 1
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        i += 1
        if lang in RUNNABLE:
            options = {**page_options, **pending}
            page = path.resolve().relative_to(root).as_posix()
            blocks.append(Block(page, start, lang, "\n".join(body) + "\n", tuple(options.items())))
        pending = {}
    return blocks


def pages(root: Path = ROOT) -> list[Path]:
    """README.md and every page of docs/, in a stable order."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


# -- matching printed output against the comments that show it -------------------------

_WILDCARD = re.compile(r"<[^<>\s][^<>]*>|\.\.\.|…")
_CUTS = re.compile(r": |:$| \(| — |; ")


def _pattern(expected: str) -> re.Pattern[str]:
    parts = _WILDCARD.split(expected)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.S)


def output_matches(output: str, comment: str) -> bool:
    """Whether ``output`` is what ``comment`` shows (its head; wildcards allowed)."""
    output, comment = output.strip(), comment.strip()
    cuts = [m.start() for m in _CUTS.finditer(comment)] + [len(comment)]
    return any(_pattern(comment[:cut].strip()).fullmatch(output) for cut in cuts)


def lines_match(output: list[str], expected: list[str]) -> bool:
    """Console output against the lines shown; a line ``...`` matches any lines."""
    if not expected:
        return not output
    head, rest = expected[0], expected[1:]
    if head.strip() == "...":
        return any(lines_match(output[k:], rest) for k in range(len(output) + 1))
    return bool(output) and output[0].rstrip() == head.rstrip() and lines_match(output[1:], rest)


# -- Python blocks -----------------------------------------------------------------------


def _comments(source: str) -> dict[int, str]:
    """Line number (1-based, within the block) → its trailing comment's text."""
    found: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string[1:].strip()
    return found


class PythonSession:
    """One page's namespace: blocks run in order, prints checked against their comments."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.module = types.ModuleType("suolink_docs_example")
        self.module.__file__ = str(workdir / "example.py")
        self.printed: dict[int, list[str]] = {}
        self.expected: dict[int, str] = {}
        self.problems: list[str] = []
        self.filename = ""
        self.module.__dict__["print"] = self._print

    def _print(self, *args: object, **kwargs: object) -> None:
        if kwargs.get("file") is not None:
            print(*args, **kwargs)  # type: ignore[call-overload]
            return
        buffer = io.StringIO()
        print(*args, file=buffer, **kwargs)  # type: ignore[call-overload]
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back  # type: ignore[assignment]
        if frame is not None:
            self.printed.setdefault(frame.f_lineno, []).append(buffer.getvalue())
        sys.stdout.write(buffer.getvalue())

    def run(self, block: Block, source_path: Path) -> str | None:
        """Run one block; the reason it failed, or None."""
        self.filename = str(source_path)
        self.printed = {}
        if block.option("django") is not None:
            configure_django(self.workdir)
        tree = ast.parse(block.code, filename=self.filename)
        ast.increment_lineno(tree, block.line)
        comments = {block.line + n: text for n, text in _comments(block.code).items()}
        self.expected = {}
        self.problems = []
        if block.option("output") != "ignore":
            tree = _ShowValues(comments, self.expected).visit(tree)
            ast.fix_missing_locations(tree)
        self.module.__dict__["__docs_show__"] = self._show
        sys.modules[self.module.__name__] = self.module
        cwd = Path.cwd()
        os.chdir(self.workdir)
        try:
            exec(compile(tree, self.filename, "exec"), self.module.__dict__)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            return _example_traceback(exc, self.filename)
        finally:
            os.chdir(cwd)
            sys.modules.pop(self.module.__name__, None)
        if block.option("output") == "ignore":
            return None
        return self._check_prints(tree, comments)

    def _show(self, line: int, thunk: Callable[[], object]) -> object:
        """An expression statement with a result comment: check its value (or exception)."""
        expected = self.expected[line]
        raises = _RAISES.match(expected)
        try:
            value = thunk()
        except Exception as exc:
            names = {cls.__name__ for cls in type(exc).__mro__}
            if raises and raises["name"] in names and output_matches(str(exc), raises["rest"]):
                return None
            raise
        if raises:
            self.problems.append(f"line {line}: expected {raises['name']}, got {value!r}")
        elif not output_matches(repr(value), expected.removeprefix("->")):
            self.problems.append(
                f"line {line}: the value is {value!r}, the comment shows {expected!r}"
            )
        return value

    def _check_prints(self, tree: ast.Module, comments: dict[int, str]) -> str | None:
        problems = self.problems
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id == "print"
            ):
                continue
            end = node.end_lineno or node.lineno
            comment = comments.get(end)
            if comment is None:
                continue
            lines = range(node.lineno, end + 1)
            outputs = [text for line in lines for text in self.printed.get(line, [])]
            if not outputs:
                problems.append(f"line {node.lineno}: the print did not run")
            for text in outputs:
                if not output_matches(text, comment):
                    problems.append(
                        f"line {node.lineno}: printed {text.strip()!r}, the comment shows "
                        f"{comment!r}"
                    )
        return "\n".join(problems) or None


# A comment that shows a value: a Python literal, or ``Name: message`` for an exception.
_SHOWS_VALUE = re.compile(r"^(?:->\s*)?(?:['\"\[({]|(?:True|False|None)\b|-?\d[\d.]*(?:$|: | \())")
_RAISES = re.compile(r"^(?P<name>[A-Z]\w*): (?P<rest>.*)$")


class _ShowValues(ast.NodeTransformer):
    """``expr  # 'value'`` → ``__docs_show__(line, lambda: expr)``, which checks the value."""

    def __init__(self, comments: dict[int, str], expected: dict[int, str]) -> None:
        self.comments = comments
        self.expected = expected

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        call = node.value
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
        ):
            return node
        comment = self.comments.get(node.end_lineno or node.lineno)
        if comment is None or not (_SHOWS_VALUE.match(comment) or _RAISES.match(comment)):
            return node
        self.expected[node.lineno] = comment
        thunk = ast.Lambda(
            args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body=node.value,
        )
        show = ast.Call(
            func=ast.Name("__docs_show__", ast.Load()),
            args=[ast.Constant(node.lineno), thunk],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(ast.copy_location(show, node.value)), node)


def _example_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the example's first frame on (the runner's frames are noise)."""
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, f in enumerate(frames) if f.filename == filename), 0)
    text = "".join(traceback.format_list(frames[first:]))
    return f"{text}{''.join(traceback.format_exception_only(exc))}".rstrip()


def configure_django(workdir: Path) -> None:
    """A minimal Django project for pages that show settings and views (once a process)."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    urls = types.ModuleType("suolink_docs_urls")
    urls.urlpatterns = []  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls
    settings.configure(
        DEBUG=True,
        SECRET_KEY="docs",
        USE_TZ=True,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=urls.__name__,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "suolink.adapters.django",
        ],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(workdir / "django.sqlite3"),
                "OPTIONS": {"transaction_mode": "IMMEDIATE"},
            }
        },
        SUOLINK={"SECRET": "docs", "API_TOKEN": "s3cret"},
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# -- shell blocks ------------------------------------------------------------------------

_PREAMBLE = """\
set -eo pipefail
_await_port() {  # port pid: wait until the server answers, fail at once if it died
    for _ in $(seq 300); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "nothing answered on port $1" >&2; cat "serve-$1.log" >&2; return 1
}
trap 'jobs=$(jobs -p); if [ -n "$jobs" ]; then kill $jobs 2>/dev/null || true; fi; wait 2>/dev/null || true' EXIT
"""


@functools.cache
def network_namespace() -> tuple[str, ...] | None:
    """A command prefix that runs bash in its own network namespace (lo up), if allowed."""
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    return ("unshare", "-rn", "bash", "-c", 'ip link set lo up 2>/dev/null; exec bash "$0"')


def shell_env(workdir: Path) -> dict[str, str]:
    """The environment of shell examples: ``suolink`` is this Python's, no SUOLINK_*."""
    bindir = workdir / ".bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "suolink"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m suolink "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUOLINK_")}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(workdir)
    env.setdefault("COLUMNS", "100")
    return env


def _serve_line(line: str) -> str:
    command = re.sub(r"\s+#.*$", "", line).strip()
    port_match = re.search(r"--port[ =](\d+)", command)
    port = port_match[1] if port_match else "8000"
    return f"{command} >serve-{port}.log 2>&1 &\n_await_port {port} $!"


def _run_bash(script: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    path = workdir / ".block.sh"
    path.write_text(_PREAMBLE + script)
    prefix = network_namespace()
    command = [*(prefix or ["bash"]), str(path)]
    with subprocess.Popen(
        command,
        cwd=workdir,
        env=shell_env(workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            out, _ = process.communicate(timeout=SHELL_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            out, _ = process.communicate()
            out += f"\n(timed out after {SHELL_TIMEOUT}s)"
        return subprocess.CompletedProcess(command, process.returncode, out, None)


def _needs_free_ports(block: Block) -> bool:
    return any(SERVE_LINE.match(line) for line in block.code.splitlines())


def run_sh(block: Block, workdir: Path) -> str | None:
    script = "\n".join(
        _serve_line(line) if SERVE_LINE.match(line) else line for line in block.code.splitlines()
    )
    done = _run_bash(script + "\n", workdir)
    if done.returncode != 0:
        return f"exit status {done.returncode}:\n{done.stdout}".rstrip()
    return None


def console_commands(code: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines (with ``\\`` continuations) and the output lines shown below."""
    commands: list[tuple[str, list[str]]] = []
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise ValueError(f"console block line {i + 1} is not a '$ ' command: {lines[i]!r}")
        command = [lines[i][2:]]
        while command[-1].endswith("\\") and i + 1 < len(lines):
            i += 1
            command.append(lines[i])
        i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        commands.append(("\n".join(command), output))
    return commands


def run_console(block: Block, workdir: Path) -> str | None:
    commands = console_commands(block.code)
    script = ["set +e", "_rc=0"]
    for n, (command, _) in enumerate(commands):
        if SERVE_LINE.match(command):
            script.append(_serve_line(command))
            continue
        script.append(f"(exit $_rc); {{\n{command}\n}} >.out-{n} 2>&1; _rc=$?")
    done = _run_bash("\n".join(script) + "\n", workdir)
    if done.returncode != 0:
        return f"exit status {done.returncode}:\n{done.stdout}".rstrip()
    if block.option("output") == "ignore":
        return None
    problems = []
    for n, (command, expected) in enumerate(commands):
        if SERVE_LINE.match(command):
            continue
        printed = (workdir / f".out-{n}").read_text().splitlines()
        if not lines_match(printed, expected):
            problems.append(
                f"$ {command}\n-- shown:\n"
                + "\n".join(expected)
                + "\n-- printed:\n"
                + "\n".join(printed)
            )
    return "\n".join(problems) or None


# -- pages -------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def _extras_name(extras: frozenset[str]) -> str:
    return ",".join(sorted(extras)) or "core"


def home(needs: frozenset[str], envs: list[frozenset[str]]) -> frozenset[str] | None:
    """The smallest of ``envs`` (the first of equal size) with every extra ``needs``."""
    fits = [env for env in envs if needs <= env]
    return min(fits, key=len) if fits else None


def _homed_end(
    blocks: list[Block], extras: frozenset[str], envs: list[frozenset[str]] | None
) -> int:
    """How many of the page's blocks to run in the environment of ``extras``.

    Without ``envs``: all of them. With the list of every environment being tested
    (``scripts/wheel-smoke.sh``), a block is proven once, in its home: the smallest
    environment that can run it, as it needs no more. The page runs here up to its last
    block whose home this is (the blocks before it set up its state, as on the page),
    and not at all if it has none.
    """
    if envs is None:
        return len(blocks)
    homed = [
        n
        for n, block in enumerate(blocks)
        if block.skip_reason is None and home(block.extras, envs) == extras
    ]
    return homed[-1] + 1 if homed else 0


def run_page(
    blocks: list[Block],
    workdir: Path,
    extras: frozenset[str] | None = None,
    root: Path = ROOT,
    envs: list[frozenset[str]] | None = None,
) -> list[Result]:
    """Run one page's blocks in order in ``workdir``; ``extras`` (None: all) filters them,
    and ``envs`` (the environments that share the work, see ``_homed_end``)."""
    results: list[Result] = []
    session: PythonSession | None = None
    end = len(blocks) if extras is None else _homed_end(blocks, extras, envs)
    for n, block in enumerate(blocks):
        reason = block.skip_reason
        if reason is None and extras is not None and not block.extras <= extras:
            reason = f"needs suolink[{_extras_name(block.extras)}]"
        if reason is None and n >= end and envs is not None:
            where = home(block.extras, envs)
            reason = f"runs in the suolink[{_extras_name(where or frozenset())}] environment"
        serves = block.lang != "python" and _needs_free_ports(block)
        if reason is None and serves and network_namespace() is None:
            reason = "starts a server on its documented port: needs `unshare -rn`"
        if reason is not None:
            results.append(Result(block.id, "skipped", reason))
            continue
        source = root / block.page
        try:
            with _quiet():
                if block.lang == "python":
                    if session is None:
                        session = PythonSession(workdir)
                    problem = session.run(block, source)
                elif block.lang == "console":
                    problem = run_console(block, workdir)
                else:
                    problem = run_sh(block, workdir)
        except Exception as exc:  # the runner itself failed on this block
            problem = _example_traceback(exc, str(source))
        results.append(Result(block.id, "failed" if problem else "ok", problem or ""))
    return results


def run_page_isolated(page: str, extras: frozenset[str] | None = None) -> list[Result]:
    """Run ``page`` in a fresh Python process and temporary folder; its results."""
    command = [sys.executable, str(Path(__file__).resolve()), "--json", page]
    if extras is not None:
        command[2:2] = ["--extras", ",".join(sorted(extras)) or "core"]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=900, check=False
    )
    try:
        payload = json.loads(done.stdout.splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"the example runner failed:\n{done.stdout}\n{done.stderr}") from None
    return [Result(**r) for r in payload]


def _parse_extras(text: str) -> frozenset[str]:
    return frozenset(e for e in text.split(",") if e and e != "core")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="Markdown files (default: README.md, docs/*.md)")
    parser.add_argument("--extras", help="run only blocks whose extras are among these (a,b)")
    parser.add_argument(
        "--envs",
        help="with --extras: the extras of every environment being tested ('core flask "
        "flask,qr ...'); run only the pages with a block that this one is the smallest to run",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    extras = None
    if args.extras is not None:
        extras = _parse_extras(args.extras)
    envs = None
    if args.envs is not None:
        if extras is None:
            parser.error("--envs needs --extras")
        envs = [_parse_extras(env) for env in args.envs.split()]
        if extras not in envs:
            parser.error(f"--extras {args.extras} is not one of --envs")
    chosen = [Path(p).resolve() for p in args.pages] or pages()
    results: list[Result] = []
    for page in chosen:
        # A page leaves its stores open, as a script does: a background visit writer may
        # still flush (and so create the database file again) while the folder goes.
        with tempfile.TemporaryDirectory(prefix="suolink-docs-", ignore_cleanup_errors=True) as tmp:
            results += run_page(parse_page(page), Path(tmp), extras, envs=envs)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in results]))
    else:
        for result in results:
            print(f"{result.status:8} {result.id}")
            if result.status != "ok" and result.message:
                print("    " + result.message.replace("\n", "\n    "))
        counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed")}
        print(", ".join(f"{n} {status}" for status, n in counts.items()))
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
