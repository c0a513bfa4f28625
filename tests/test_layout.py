"""Tests mirror the module map: every module of ``src/suolink`` has its test module or folder.

The rule: ``suolink/a/m.py`` is tested in ``tests/a/test_m.py`` (or ``tests/a/test_m_*.py``,
or a folder ``tests/a/m/``); a package ``suolink/a/p/`` in a folder ``tests/a/p/`` (or
``tests/a/test_p*.py``). A module whose tests live elsewhere is listed in ``TESTED_IN``
with the file that tests it; one with no tests of its own is in ``UNTESTED`` with the
reason. Both lists are checked too, so they cannot go stale: a new module fails this test
until it gets its tests or a line here saying where they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "suolink"
TESTS = ROOT / "tests"

#: Not code to test on its own: the top package's ``__init__`` (tests/test_imports.py
#: checks its names), the entry point, the generated version, and Django migrations
#: (``makemigrations --check`` in tests/adapters/django/test_app.py proves them).
SKIPPED = {"__init__.py", "__main__.py", "_version.py"}

#: Modules tested under another name: module (relative to src/suolink) -> its test file.
TESTED_IN: dict[str, str] = {
    # The HTTP surface's parts tested through the behaviour they serve.
    "http/hosts.py": "tests/http/test_hardening.py",
    "http/startup.py": "tests/adapters/test_flask_manners.py",
    "search.py": "tests/http_scenarios.py",
    # The Django app: its parts are tested together, as Django assembles them.
    "adapters/django/forms.py": "tests/adapters/django/test_admin.py",
    "adapters/django/summary.py": "tests/adapters/django/test_admin.py",
    "adapters/django/apps.py": "tests/adapters/django/test_app.py",
    "adapters/django/checks.py": "tests/adapters/django/test_app.py",
    "adapters/django/middleware.py": "tests/adapters/django/test_app.py",
    "adapters/django/models.py": "tests/adapters/django/test_app.py",
    "adapters/django/management/__init__.py": "tests/adapters/django/test_app.py",
    "adapters/django/management/commands/__init__.py": "tests/adapters/django/test_app.py",
    "adapters/django/management/commands/suolink.py": "tests/adapters/django/test_app.py",
    "adapters/django/conf.py": "tests/adapters/django/test_settings.py",
    "adapters/django/decorators.py": "tests/adapters/django/test_settings.py",
    "adapters/django/async_urls.py": "tests/adapters/django/test_http.py",
    "adapters/django/state.py": "tests/adapters/django/test_http.py",
    "adapters/django/urls.py": "tests/adapters/django/test_http.py",
    "adapters/django/views.py": "tests/adapters/django/test_http.py",
    # The ORM backend is a row of the one backend table.
    "adapters/django/storage.py": "tests/backends/test_contract.py",
    # Thin re-exports of suolink.http, checked name by name.
    "api.py": "tests/http/test_routes.py",
    "openapi.py": "tests/http/test_openapi.py",
    # Backends prove themselves in the contract suite run over the backend table.
    "backends/_common.py": "tests/backends/test_contract.py",
    "backends/base.py": "tests/backends/test_capabilities.py",
    "backends/memory.py": "tests/backends/test_contract.py",
    "backends/redis/_options.py": "tests/backends/test_redis.py",
    "backends/redis/_outbox.py": "tests/backends/test_outbox.py",
    "backends/sql/_options.py": "tests/backends/test_sql.py",
    "backends/sql/mysql.py": "tests/backends/test_sql.py",
    "backends/sql/postgres.py": "tests/backends/test_sql.py",
    "backends/sql/schema.py": "tests/backends/test_sql.py",
    "backends/sql_outbox.py": "tests/backends/test_outbox.py",
    # Detection is tested through detect(), over the user-agent corpus.
    "detect/bots.py": "tests/detect/test_hardening.py",
    "detect/client.py": "tests/detect/test_detect.py",
    "detect/core.py": "tests/detect/test_detect.py",
    "detect/platforms.py": "tests/detect/test_detect.py",
    "detect/resolver.py": "tests/detect/test_detect.py",
    "detect/signatures.py": "tests/detect/test_tokens.py",
    # Errors carry their HTTP status; the mapping is tested where errors become answers.
    "errors.py": "tests/http/test_responses.py",
    "escapes.py": "tests/test_antiblock.py",
    "http/api.py": "tests/http/test_routes.py",
    "http/handlers.py": "tests/http/test_routes.py",
    "languages.py": "tests/render/test_i18n.py",
    "models.py": "tests/test_properties.py",
    "passwords.py": "tests/test_policy.py",
    # QR: tests named after what they do (encode, decode, cache, hostile images).
    "qr/_deps.py": "tests/qr/test_qr_decode.py",
    "qr/cache.py": "tests/qr/test_qr_cache.py",
    "qr/decoder.py": "tests/qr/test_qr_decode.py",
    "qr/encoder.py": "tests/qr/test_qr_encode.py",
    "qr/engines.py": "tests/qr/test_qr_decode.py",
    "qr/images.py": "tests/qr/test_qr_hostile.py",
    "qr/limits.py": "tests/qr/test_qr_hostile.py",
    "qr/matrix.py": "tests/qr/test_qr_encode.py",
    "qr/options.py": "tests/qr/test_qr_encode.py",
    "qr/render.py": "tests/qr/test_qr_encode.py",
    "rules.py": "tests/test_options.py",
    # The visit path: the one-trip redirect and its fallback to the policy.
    "visits.py": "tests/backends/test_one_trip_policy.py",
}

#: Modules with no tests of their own, and why.
UNTESTED: dict[str, str] = {}


def modules() -> list[str]:
    """Every module and subpackage under src/suolink the rule applies to."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if "migrations" in rel.parts or rel.name in SKIPPED - {"__init__.py"}:
            continue
        if rel == Path("__init__.py"):
            continue
        found.append(rel.as_posix())
    return found


def mirrored(module: str) -> bool:
    """True if ``module`` has a test module or folder where the rule puts it."""
    rel = Path(module)
    if rel.name == "__init__.py":  # a package: tests/a/p/ or tests/a/test_p*.py
        folder, name = TESTS / rel.parent.parent, rel.parent.name
    else:
        folder, name = TESTS / rel.parent, rel.stem
    return (
        (folder / name).is_dir()
        or any(folder.glob(f"test_{name}.py"))
        or any(folder.glob(f"test_{name}_*.py"))
    )


@pytest.mark.parametrize("module", modules())
def test_every_module_has_its_tests(module: str) -> None:
    if module in UNTESTED:
        return
    if module in TESTED_IN:
        assert (ROOT / TESTED_IN[module]).is_file(), f"{module}: {TESTED_IN[module]} is gone"
        return
    assert mirrored(module), (
        f"src/suolink/{module} has no tests where the layout puts them "
        f"(tests/{Path(module).parent}/test_{Path(module).stem}.py); add them, or say in "
        "tests/test_layout.py where they are"
    )


def test_the_lists_name_real_modules_and_only_those_off_the_rule() -> None:
    known = set(modules())
    listed = set(TESTED_IN) | set(UNTESTED)
    assert listed <= known, f"no such modules: {sorted(listed - known)}"
    assert not set(TESTED_IN) & set(UNTESTED)
    on_rule = sorted(m for m in listed if mirrored(m))
    assert not on_rule, f"these follow the rule now; drop them from the lists: {on_rule}"


def test_the_rule_itself() -> None:
    """The checker can fail: a module with no tests anywhere is not mirrored."""
    assert mirrored("stats.py")  # tests/test_stats.py
    assert mirrored("render/chart.py")  # tests/render/test_chart.py
    assert mirrored("render/__init__.py")  # tests/render/
    assert mirrored("backends/redis/__init__.py")  # tests/backends/test_redis.py
    assert mirrored("adapters/flask.py")  # tests/adapters/test_flask*.py
    assert not mirrored("no_such_module.py")
    assert not mirrored("qr/encoder.py")  # its tests are named test_qr_encode.py
    assert "adapters/django/views.py" in modules()
    assert not any("migrations" in m or m.endswith("_version.py") for m in modules())


def test_the_design_page_maps_every_module() -> None:
    """docs/design.md has one line per module, and no line for a module that is gone."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    table = text[text.index("## Module map") :]
    table = table[: table.index("\n## ")]
    mapped = set(re.findall(r"^\| `([\w/]+\.py)` \|", table, flags=re.MULTILINE))
    every = {
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if "migrations" not in p.relative_to(SRC).parts
    }
    assert every - mapped == set(), "add these to the module map in docs/design.md"
    assert mapped - every == set(), "these modules are gone; drop their lines"
