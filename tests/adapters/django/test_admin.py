"""The admin: links created and changed through the configured Shortener, its refusals
as form errors with nothing stored, the change page's short URL, QR code and stats, and
the list's filters."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from suolink.adapters.django import get_shortener
from suolink.adapters.django.forms import LinkForm, parse_tags, parse_targets
from suolink.adapters.django.models import Link as LinkRow
from suolink.adapters.django.storage import DjangoStorage
from suolink.detect.platforms import BLOCKING_APPS, PLATFORM_IDS
from suolink.errors import CodeTaken
from suolink.models import AntiBlockMode, Link, Visit
from suolink.qr import decode
from tests.adapters.django.project import store_url

ADD = "/admin/suolink/link/add/"


def change_url(code: str) -> str:
    return f"/admin/suolink/link/{code}/change/"


@pytest.fixture
def links(db: None) -> DjangoStorage:
    """Links in the default (test) database, as the admin shows them."""
    store = DjangoStorage("django://")
    store.create(
        Link(code="news1", url="https://example.com/news", title="Daily news", tags=("news",))
    )
    store.create(Link(code="shop1", url="https://shop.example/", title="Shop", tags=("shop",)))
    for app in ("wechat", "wechat", "qq"):
        store.record_visit(Visit(code="news1", app=app, user_agent="ua"))
    return store


def add_form(**changes: Any) -> dict[str, Any]:
    """The add page's fields as a browser posts them, anti-block preset left ticked."""
    form: dict[str, Any] = {
        "code": "",
        "url": "https://example.com/page",
        "title": "",
        "tags": "",
        "password": "",
        "expires_at_0": "",
        "expires_at_1": "",
        "max_visits": "",
        "language": "",
        "anti_block_mode": "auto",
        "anti_block": sorted(BLOCKING_APPS),
        "targets": "",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def change_form(link: Link, **changes: Any) -> dict[str, Any]:
    """The change page's fields for ``link`` as the page shows them, with ``changes``."""
    form = add_form(
        code=None,
        url=link.url,
        title=link.title or "",
        tags=", ".join(link.tags),
        anti_block=sorted(BLOCKING_APPS if link.anti_block is None else link.anti_block),
        allow=sorted(link.allow or ()),
        deny=sorted(link.deny),
        targets="\n".join(f"{p} {u}" for p, u in link.targets),
        **{"visit_rows-TOTAL_FORMS": "0", "visit_rows-INITIAL_FORMS": "0"},
    )
    form.update(changes)
    return form


def errors_of(page: Any) -> dict[str, list[str]]:
    """The form's errors from the admin's context: field name (or ``__all__``) -> messages."""
    form = page.context["adminform"].form
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


def success_message(page: Any) -> bool:
    return "successfully" in page.content.decode()


# -- refusals: a form error, nothing stored, no success message ----------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"url": "javascript:alert(1)"}, "url", "javascript: links are not allowed"),
        ({"url": "ftp://example.com/"}, "url", "invalid URL"),
        ({"code": "has space/x"}, "code", "invalid code"),
        ({"language": "klingon"}, "language", "klingon is not one of the available choices"),
        ({"targets": "zz https://example.com/"}, "targets", "'zz' is not a known platform"),
        ({"targets": "ios javascript:alert(1)"}, "targets", "javascript: links are not allowed"),
        ({"targets": "ios"}, "targets", "expected a platform and a URL"),
        ({"max_visits": "0"}, "max_visits", "invalid max_visits"),
        ({"allow": ["planet"]}, "allow", "planet is not one of the available choices"),
    ],
)
def test_add_refuses_bad_input_with_a_form_error(
    admin_client: Any, links: DjangoStorage, changes: dict[str, Any], field: str, words: str
) -> None:
    before = LinkRow.objects.count()
    page = admin_client.post(ADD, add_form(**changes), follow=True)
    assert page.status_code == 200
    errors = errors_of(page)
    assert list(errors) == [field]
    assert words in " ".join(errors[field])
    assert not success_message(page)
    assert LinkRow.objects.count() == before


def test_javascript_url_is_never_stored_nor_redirected_to(
    admin_client: Any, links: DjangoStorage
) -> None:
    page = admin_client.post(ADD, add_form(url="javascript:alert(1)", code="evil"))
    assert page.status_code == 200
    assert "javascript: links are not allowed" in page.content.decode()
    assert not LinkRow.objects.filter(pk="evil").exists()
    assert admin_client.get("/evil").status_code == 404


def test_a_taken_alias_is_a_code_error(admin_client: Any, links: DjangoStorage) -> None:
    page = admin_client.post(ADD, add_form(code="news1", url="https://other.example/"))
    assert errors_of(page) == {"code": ["the code 'news1' is already taken"]}
    assert links.get("news1").url == "https://example.com/news"  # type: ignore[union-attr]


def test_password_and_remove_password_together_are_refused(
    admin_client: Any, links: DjangoStorage
) -> None:
    link = links.get("shop1")
    assert link is not None
    page = admin_client.post(
        change_url("shop1"), change_form(link, password="pw", clear_password="on")
    )
    assert list(errors_of(page)) == ["clear_password"]
    assert links.get("shop1") == link


@pytest.mark.parametrize("where", ["memory://", "another database alias"])
def test_links_stored_elsewhere_are_not_written_from_the_admin(
    admin_client: Any, links: DjangoStorage, tmp_path: Path, where: str
) -> None:
    storage = where if where == "memory://" else store_url(tmp_path)
    with override_settings(SUOLINK={"STORAGE": storage, "SECRET": "x"}):
        page = admin_client.post(ADD, add_form(code="elsewhere"))
        if where == "memory://":  # (the other alias is not open to this test)
            assert get_shortener().storage.get("elsewhere") is None
    assert "set SUOLINK['STORAGE'] to django://" in " ".join(errors_of(page)["__all__"])
    assert not LinkRow.objects.filter(pk="elsewhere").exists()


# -- creating and changing ----------------------------------------------------------------


def test_create_with_a_generated_code_and_every_setting(
    admin_client: Any, links: DjangoStorage
) -> None:
    before = set(LinkRow.objects.values_list("code", flat=True))
    page = admin_client.post(
        ADD,
        add_form(
            url="HTTPS://Example.COM/a",
            title="A page",
            tags="news, sale,, ",
            targets="ios https://apps.apple.com/app/id1\nandroid = https://play.example/app",
            allow=["mobile", "desktop"],
            deny=["bot"],
            anti_block=["wechat", "dingtalk"],
            anti_block_mode="guide",
            max_visits="5",
            language="zh-CN",
            password="s3cret",
        ),
        follow=True,
    )
    assert success_message(page), errors_of(page)
    [code] = set(LinkRow.objects.values_list("code", flat=True)) - before
    link = links.get(code)
    assert link is not None
    assert link.url == "https://example.com/a"  # normalised by the Shortener
    assert link.title == "A page"
    assert link.tags == ("news", "sale")
    assert link.targets == (
        ("ios", "https://apps.apple.com/app/id1"),
        ("android", "https://play.example/app"),
    )
    assert link.allow == {"mobile", "desktop"}
    assert link.deny == {"bot"}
    assert link.anti_block == {"wechat", "dingtalk"}
    assert link.anti_block_mode is AntiBlockMode.GUIDE
    assert link.max_visits == 5
    assert link.language == "zh-CN"
    assert link.has_password
    assert [found.code for found in links.list(tag="sale").links] == [code]


def test_the_preset_left_ticked_keeps_the_default_anti_block(
    admin_client: Any, links: DjangoStorage
) -> None:
    page = admin_client.post(ADD, add_form(code="preset"))
    assert page.status_code == 302
    link = links.get("preset")
    assert link is not None
    assert link.anti_block is None  # the default preset, which follows the library's
    assert link.allow is None  # nothing ticked: every platform
    ticked = admin_client.get(ADD).content.decode()
    for app in BLOCKING_APPS:
        assert re.search(rf'<input[^>]*value="{app}"[^>]*checked', ticked)


def test_change_updates_through_the_shortener(admin_client: Any, links: DjangoStorage) -> None:
    row = LinkRow.objects.get(code="shop1")
    link = links.get("shop1")
    assert link is not None
    reply = admin_client.post(
        change_url("shop1"),
        change_form(link, url="https://shop.example/new", tags="sale", password="pw1"),
    )
    assert reply.status_code == 302, errors_of(reply)
    changed = links.get("shop1")
    assert changed is not None
    assert changed.password_hash is not None
    assert changed == Link(
        code="shop1",
        url="https://shop.example/new",
        created_at=row.created_at,
        title="Shop",
        tags=("sale",),
        password_hash=changed.password_hash,
    )
    assert [found.code for found in links.list(tag="sale").links] == ["shop1"]
    assert links.list(tag="shop").links == ()
    page = admin_client.get(change_url("shop1")).content.decode()
    assert changed.password_hash not in page
    assert "pw1" not in page
    # A bad change is refused and nothing changes; then the password is removed.
    refused = admin_client.post(change_url("shop1"), change_form(changed, url="javascript:x"))
    assert "javascript: links are not allowed" in " ".join(errors_of(refused)["url"])
    assert links.get("shop1") == changed
    reply = admin_client.post(change_url("shop1"), change_form(changed, clear_password="on"))
    assert reply.status_code == 302
    assert links.get("shop1").password_hash is None  # type: ignore[union-attr]


def test_the_change_form_starts_from_the_stored_link(links: DjangoStorage) -> None:
    links.update(
        "news1",
        {
            "targets": (("ios", "https://apps.apple.com/x"),),
            "allow": frozenset({"mobile"}),
            "anti_block": frozenset({"qq"}),
        },
    )
    form = LinkForm(instance=LinkRow.objects.get(pk="news1"))
    assert "code" not in form.fields
    assert form.initial["tags"] == "news"
    assert form.initial["targets"] == "ios https://apps.apple.com/x"
    assert form.initial["allow"] == ["mobile"]
    assert form.initial["anti_block"] == ["qq"]
    assert "password" not in form.initial


def test_delete_goes_through_the_backend(admin_client: Any, links: DjangoStorage) -> None:
    reply = admin_client.post("/admin/suolink/link/news1/delete/", {"post": "yes"})
    assert reply.status_code == 302
    assert links.get("news1") is None
    assert links.list(tag="news").links == ()
    with pytest.raises(CodeTaken):  # deleting in the admin retires the code too
        links.create(Link(code="news1", url="https://elsewhere.example/"))


# -- the change page and the list -----------------------------------------------------------


def test_change_page_shows_short_url_qr_code_and_stats(
    admin_client: Any, links: DjangoStorage
) -> None:
    page = admin_client.get(change_url("news1"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "latest visits" in text.lower()
    assert "wechat: 2" in text
    assert "qq: 1" in text
    assert "3 in all" in text
    assert 'href="http://testserver/news1"' in text
    found = re.search(r'<img id="suolink-qr" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert found is not None
    assert decode(base64.b64decode(found.group(1))) == ["http://testserver/news1"]
    assert admin_client.get(ADD).status_code == 200


def test_change_page_escapes_what_the_owner_typed(admin_client: Any, links: DjangoStorage) -> None:
    links.update("news1", {"title": '"><script>alert(1)</script>'})
    text = admin_client.get(change_url("news1")).content.decode()
    assert "<script>alert(1)</script>" not in text
    assert '"><script>alert(1)</script>' in unescape(text)


def test_changelist_search_and_filters(admin_client: Any, links: DjangoStorage) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    links.update("shop1", {"expires_at": past, "disabled": True})

    def listed(**query: str) -> set[str]:
        page = admin_client.get("/admin/suolink/link/", query)
        assert page.status_code == 200
        return {row.code for row in page.context["cl"].result_list}

    assert listed() == {"news1", "shop1"}
    assert listed(q="daily") == {"news1"}
    assert listed(tag="shop") == {"shop1"}
    assert listed(expired="yes") == {"shop1"}
    assert listed(expired="no") == {"news1"}
    assert listed(disabled__exact="1") == {"shop1"}
    assert listed(disabled__exact="0") == {"news1"}
    year = str(links.get("news1").created_at.year)  # type: ignore[union-attr]
    assert listed(created_at__year=year) == {"news1", "shop1"}
    assert listed(created_at__year="1999") == set()


# -- parsing the text fields ----------------------------------------------------------------


_URLS = st.from_regex(r"https://[a-z]{1,10}\.example/[A-Za-z0-9/_.-]{0,20}", fullmatch=True)


@given(st.dictionaries(st.sampled_from(sorted(PLATFORM_IDS)), _URLS, max_size=6))
def test_targets_text_round_trips(targets: dict[str, str]) -> None:
    text = "\n".join(f"{platform} {url}" for platform, url in targets.items())
    assert parse_targets(text) == targets
    assert parse_targets(text.replace(" ", " = ")) == targets


def test_targets_lines_are_checked() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="line 2"):
        parse_targets("ios https://a.example/\nandroid")
    with pytest.raises(ValidationError, match="given twice"):
        parse_targets("ios https://a.example/\nios https://b.example/")


@given(st.lists(st.text(alphabet="abc ,", max_size=8), max_size=5))
def test_tags_are_comma_separated_without_blanks(parts: list[str]) -> None:
    tags = parse_tags(",".join(parts))
    assert all(tag and tag == tag.strip() and "," not in tag for tag in tags)


# -- short domains ----------------------------------------------------------------------------


def test_domains_are_managed_in_the_admin(admin_client: Any, db: None) -> None:
    shortener = get_shortener()
    page = admin_client.post(
        "/admin/suolink/domain/add/", {"name": "S1.Example", "pool": "main", "default": "on"}
    )
    assert page.status_code == 302, page.content[:400]
    admin_client.post("/admin/suolink/domain/add/", {"name": "s2.example", "pool": "main"})
    assert [(d.name, d.default) for d in shortener.domains()] == [
        ("s1.example", True),
        ("s2.example", False),
    ]
    refused = admin_client.post("/admin/suolink/domain/add/", {"name": "not a host", "pool": "x"})
    assert refused.status_code == 200
    listing = admin_client.get("/admin/suolink/domain/")
    assert b"s1.example" in listing.content
    admin_client.post(
        "/admin/suolink/domain/",
        {"action": "mark_blocked_wechat", "_selected_action": ["s1.example"]},
    )
    assert shortener.domain("s1.example").health("wechat").value == "blocked"
    assert b"wechat: blocked" in admin_client.get("/admin/suolink/domain/").content
    admin_client.post(
        "/admin/suolink/domain/",
        {"action": "mark_ok_everywhere", "_selected_action": ["s1.example"]},
    )
    assert shortener.domain("s1.example").states == {}
    admin_client.post("/admin/suolink/domain/s2.example/delete/", {"post": "yes"})
    assert [d.name for d in shortener.domains()] == ["s1.example"]


def test_campaigns_page_lists_campaigns_and_the_leaderboard(admin_client: Any) -> None:
    """The admin's campaign list reads people through the Shortener (any backend that
    tracks people), ``memory://`` and ``django://`` alike."""
    with override_settings(SUOLINK={"STORAGE": "memory://", "SECRET": "x"}):
        shortener = get_shortener()
        made = shortener.shorten_for("https://example.com/", ["m-1", "m-2"], campaign="spring")
        shortener.storage.record_visit(Visit(code=made[0].code, visitor_id="v1"))
        page = admin_client.get("/admin/suolink/link/campaigns/")
        assert page.status_code == 200
        text = page.content.decode()
        assert 'id="campaigns"' in text
        assert "spring" in text
        assert 'id="board"' in text
        assert "m-2" in text
    shortener = get_shortener()  # django:// tracks people too (migration 0013_people)
    made = shortener.shorten_for("https://example.com/", ["d-1"], campaign="autumn")
    shortener.storage.record_visit(Visit(code=made[0].code, visitor_id="v9"))
    page = admin_client.get("/admin/suolink/link/campaigns/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "autumn" in text
    assert "tracks_people" not in text
    assert admin_client.logout() is None
