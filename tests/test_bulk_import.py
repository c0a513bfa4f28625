"""imports.py and the archive of exports.py: the own archive round-trips exactly (JSON and
CSV, every field, every visit); Shlink, YOURLS and Kutt exports come in checked; a bad
record is refused whole and the rest go on."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suolink import Shortener
from suolink.abuse import Action, UrlCheck
from suolink.cli import main
from suolink.errors import InvalidOption
from suolink.exports import archive_csv, archive_json
from suolink.imports import detect_format, import_records, read_text
from suolink.models import Link, Visit, Visitor

T0 = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI"
)


def archive(shortener: Shortener, fmt: str) -> bytes:
    items = ((link, shortener.visits(link.code)) for link in shortener.iter_links())
    chunks = archive_csv(items) if fmt == "csv" else archive_json(items)
    return b"".join(chunks)


def populated(url: str) -> Shortener:
    shortener = Shortener(url, secret="s", base_url="https://s.example")
    rich = shortener.shorten(
        "https://example.com/路径?q=1",
        code="rich",
        title="=SUM(A1) 'quoted' \"标题\"",
        tags=["a", "b"],
        password="pw",
        max_visits=50,
        expires_in=86400 * 365,
        anti_block=["wechat"],
        allow=["mobile", "desktop"],
        targets={"ios": "https://apps.apple.com/x"},
        og_title="",
        og_description="+card",
        og_image="https://cdn.example/c.png",
        split=[{"url": "https://a.example/"}, {"url": "https://b.example/", "weight": 3}],
        deny_countries=["KP"],
        geo_targets={"CN": "https://example.cn/"},
        language="zh-CN",
    )
    for i in range(5):
        shortener.resolve(rich.code, Visitor(user_agent=CHROME, ip=f"192.0.2.{i}", password="pw"))
    shortener.resolve(rich.code, Visitor(user_agent=WECHAT, referer="https://weixin.qq.com/x"))
    shortener.resolve(rich.code, Visitor(user_agent="", ip="192.0.2.9", password="pw"))
    plain = shortener.shorten("https://example.com/plain", disabled=True)
    shortener.storage.record_visit(
        Visit(code=plain.code, at=T0, user_agent="-x", referer="", country="CN", city="'深圳")
    )
    shortener.shorten("https://example.com/empty")
    return shortener


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("target", ["memory://", "sqlite"])
def test_the_archive_round_trips_exactly(fmt: str, target: str, tmp_path: Path) -> None:
    source = populated("memory://")
    first = archive(source, fmt)
    assert detect_format(first.decode()) == f"suolink-{fmt}"
    url = f"sqlite:///{tmp_path / 'copy.db'}" if target == "sqlite" else "memory://"
    copy = Shortener(url, secret="s", base_url="https://s.example")
    report = import_records(copy, read_text(first.decode()))
    assert (report.created, report.skipped) == (3, [])
    assert report.visits == 8
    assert archive(copy, fmt) == first
    for link in source.iter_links():
        assert copy.get(link.code) == link
        assert list(copy.visits(link.code)) == list(source.visits(link.code))
        assert copy.stats(link.code) == source.stats(link.code)


def test_a_restored_password_still_opens_the_link() -> None:
    source = populated("memory://")
    copy = Shortener("memory://", secret="s")
    import_records(copy, read_text(archive(source, "json").decode()))
    wrong = copy.resolve("rich", Visitor(user_agent=CHROME, password="nope"))
    right = copy.resolve("rich", Visitor(user_agent=CHROME, password="pw"))
    assert (wrong.status, right.status) == (401, 302)


def test_importing_twice_skips_what_is_there_and_changes_nothing() -> None:
    source = populated("memory://")
    text = archive(source, "json").decode()
    copy = Shortener("memory://")
    import_records(copy, read_text(text))
    again = import_records(copy, read_text(text))
    assert again.created == 0
    assert [code for code, _ in again.skipped] == [link.code for link in source.iter_links()]
    assert len(list(copy.visits("rich"))) == 7  # no visit replayed twice


def test_a_bad_record_is_refused_whole_and_the_rest_go_on() -> None:
    data = json.loads(archive(populated("memory://"), "json"))
    data["links"][0]["link"]["url"] = "javascript:alert(1)"
    data["links"][1]["visits"] = [{"at": "not a time"}]
    copy = Shortener("memory://")
    report = import_records(copy, read_text(json.dumps(data)))
    assert report.created == 1
    assert len(report.skipped) == 2
    assert copy.list().links[0].code == data["links"][2]["link"]["code"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
)
def test_any_text_survives_the_csv_archive(text: str) -> None:
    shortener = Shortener("memory://")
    shortener.storage.create(Link(code="t1", url="https://e.com/", title=text or None))
    shortener.storage.record_visit(Visit(code="t1", at=T0, user_agent=text, referer=text))
    first = archive(shortener, "csv")
    copy = Shortener("memory://")
    assert import_records(copy, read_text(first.decode())).created == 1
    assert copy.get("t1") == shortener.get("t1")
    assert list(copy.visits("t1")) == list(shortener.visits("t1"))


# -- other shorteners' exports ---------------------------------------------------------

SHLINK_JSON = {
    "shortUrls": {
        "data": [
            {
                "shortCode": "abc12",
                "shortUrl": "https://s.test/abc12",
                "longUrl": "https://example.com/one",
                "dateCreated": "2024-03-01T10:00:00+00:00",
                "tags": ["promo"],
                "title": "One",
                "meta": {"validUntil": None, "maxVisits": 100},
            },
            {"shortCode": "bad 1", "longUrl": "https://example.com/two", "tags": []},
        ]
    }
}
SHLINK_CSV = (
    "createdAt,shortUrl,longUrl,title,tags,visits\r\n"
    "2024-03-02T10:00:00+00:00,https://s.test/x9,https://example.com/x,X,a|b,4\r\n"
)
YOURLS_CSV = (
    "keyword,url,title,timestamp,ip,clicks\r\n"
    "yo1,https://example.com/yo,Yo,2023-01-02 03:04:05,127.0.0.1,7\r\n"
    "yo2,ftp://example.com/no,No,2023-01-02 03:04:05,127.0.0.1,0\r\n"
)
YOURLS_JSON = {
    "links": {
        "link_1": {
            "shorturl": "https://y.test/yj",
            "url": "https://example.com/yj",
            "title": "YJ",
            "timestamp": "2022-06-01 00:00:00",
            "clicks": "3",
        }
    }
}
KUTT_JSON = {
    "data": [
        {
            "address": "kt1",
            "target": "https://example.com/k",
            "description": "K",
            "expire_in": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "created_at": "2021-01-01T00:00:00.000Z",
            "visit_count": 2,
        }
    ],
    "total": 1,
}


@pytest.mark.parametrize(
    ("text", "kind", "codes"),
    [
        (json.dumps(SHLINK_JSON), "shlink", {"abc12"}),
        (SHLINK_CSV, "shlink", {"x9"}),
        (YOURLS_CSV, "yourls", {"yo1"}),
        (json.dumps(YOURLS_JSON), "yourls", {"yj"}),
        (json.dumps(KUTT_JSON), "kutt", {"kt1"}),
    ],
    ids=["shlink-json", "shlink-csv", "yourls-csv", "yourls-json", "kutt-json"],
)
def test_other_shorteners_exports(text: str, kind: str, codes: set[str]) -> None:
    assert detect_format(text) == kind
    shortener = Shortener("memory://")
    report = import_records(shortener, read_text(text))
    assert {link.code for link in shortener.iter_links()} == codes
    assert report.created == len(codes)


def test_foreign_fields_are_kept() -> None:
    shortener = Shortener("memory://")
    import_records(shortener, read_text(json.dumps(SHLINK_JSON)))
    link = shortener.get("abc12")
    assert (link.title, link.tags, link.max_visits) == ("One", ("promo",), 100)
    assert link.created_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    import_records(shortener, read_text(YOURLS_CSV))
    assert shortener.get("yo1").created_at == datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    import_records(shortener, read_text(json.dumps(KUTT_JSON)))
    kutt = shortener.get("kt1")
    assert kutt.title == "K"
    assert kutt.expires_at is not None


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"what": 1}', "a\x00b"])
def test_unknown_files_are_refused(text: str) -> None:
    with pytest.raises(InvalidOption):
        list(read_text(text))


# -- the command line ------------------------------------------------------------------


def test_cli_export_then_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    with Shortener(source) as shortener:
        shortener.shorten("https://example.com/1", code="one", tags=["t"])
        shortener.resolve("one", Visitor(user_agent=CHROME))
    out = tmp_path / "links.csv"
    assert main(["export", "--storage", source, "--format", "csv", "-o", str(out)]) == 0
    target = f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["import", str(out), "--storage", target]) == 0
    assert "imported 1 links (1 visits); skipped 0" in capsys.readouterr().out
    assert main(["import", str(out), "--storage", target, "--json"]) == 1  # all taken now
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"created": 0, "visits": 0, "skipped": 1}
    assert "skipped one" in captured.err
    assert (
        main(["export", "--storage", target, "--format", "csv", "-o", str(tmp_path / "c.csv")]) == 0
    )
    assert (tmp_path / "c.csv").read_bytes() == out.read_bytes()


def test_cli_export_to_stdout(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    store = f"sqlite:///{tmp_path / 'a.db'}"
    with Shortener(store) as shortener:
        shortener.shorten("https://example.com/1", code="one")
    assert main(["export", "--storage", store, "--no-visits"]) == 0
    data = json.load(io.BytesIO(capsysbinary.readouterr().out))
    assert data["format"] == "suolink"
    assert [item["link"]["code"] for item in data["links"]] == ["one"]


# -- the batch path and the abuse rules ----------------------------------------------------


@pytest.mark.parametrize("target", ["memory://", "sqlite"])
def test_foreign_links_go_in_batches_each_whole(target: str, tmp_path: Path) -> None:
    rows = ["keyword,url,title,timestamp,ip,clicks"]
    rows += [
        f"k{i},https://example.com/{i},T{i},2023-01-02 03:04:05,127.0.0.1,0" for i in range(1200)
    ]
    rows += ["k7,https://example.com/again,,2023-01-02 03:04:05,127.0.0.1,0"]  # taken in the file
    rows += ["bad code!,https://example.com/x,,,,"]
    url = f"sqlite:///{tmp_path / 'y.db'}" if target == "sqlite" else target
    shortener = Shortener(url)
    report = import_records(shortener, read_text("\r\n".join(rows) + "\r\n"))
    assert report.created == 1200
    assert sorted(code for code, _ in report.skipped) == ["bad code!", "k7"]
    assert shortener.get("k7").url == "https://example.com/7"
    assert shortener.get("k1199").title == "T1199"


def test_a_record_without_a_code_gets_one_in_file_order() -> None:
    text = json.dumps(
        {
            "data": [
                {"target": "https://example.com/a"},
                {"address": "kb", "target": "https://example.com/b"},
            ]
        }
    )
    shortener = Shortener("memory://")
    report = import_records(shortener, read_text(text))
    assert (report.created, report.skipped) == (2, [])
    assert {link.url for link in shortener.iter_links()} == {
        "https://example.com/a",
        "https://example.com/b",
    }


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_the_abuse_rules_judge_imported_links(fmt: str) -> None:
    source = Shortener("memory://")
    source.shorten("https://ok.example/", code="ok")
    source.shorten("https://www.bad.example/x", code="bad")
    source.shorten("https://ok.example/", code="split", split=[{"url": "https://bad.example/"}])
    source.shorten("https://casino.example/", code="warned")
    seen: list[str] = []

    def hook(url: str) -> UrlCheck | None:
        seen.append(url)
        return UrlCheck(Action.WARN, "gambling") if "casino" in url else None

    copy = Shortener("memory://", blocklist=["bad.example"], check_url=hook)
    report = import_records(copy, read_text(archive(source, fmt).decode()))
    assert report.created == 2
    assert sorted(code for code, _ in report.skipped) == ["bad", "split"]
    assert copy.get("warned").warning == "gambling"
    assert seen.count("https://casino.example/") == 1  # judged once, not again when stored
    foreign = import_records(
        copy, read_text(YOURLS_CSV.replace("example.com/yo", "bad.example/yo"))
    )
    assert [code for code, _ in foreign.skipped] == ["yo1", "yo2"]


@pytest.mark.parametrize("target", ["memory://", "sqlite"])
def test_a_value_only_the_store_refuses_costs_only_its_link(target: str, tmp_path: Path) -> None:
    data = json.loads(archive(populated("memory://"), "json"))
    data["links"][1]["link"]["title"] = "nul \x00 inside"
    url = f"sqlite:///{tmp_path / 'n.db'}" if target == "sqlite" else target
    copy = Shortener(url)
    report = import_records(copy, read_text(json.dumps(data)))
    assert report.created == 2
    assert [code for code, _ in report.skipped] == [data["links"][1]["link"]["code"]]
    assert "NUL" in report.skipped[0][1]


# -- realistic sample files of other shorteners (tests/import_samples/) -----------------

SAMPLES = Path(__file__).parent / "import_samples"


def imported(name: str) -> tuple[Shortener, dict[str, str]]:
    shortener = Shortener("memory://", secret="s")
    report = import_records(shortener, read_text((SAMPLES / name).read_text("utf-8")))
    assert report.created == len(list(shortener.iter_links()))
    return shortener, dict(report.skipped)


def test_shlink_api_sample() -> None:
    assert detect_format((SAMPLES / "shlink-short-urls.json").read_text()) == "shlink"
    shortener, skipped = imported("shlink-short-urls.json")
    assert list(skipped) == ["mailto"]  # not a web link
    steam = shortener.get("12C18")
    assert (steam.title, steam.tags, steam.max_visits, steam.visits) == (
        "Welcome to Steam",
        ("games", "tech"),
        None,
        0,  # Shlink's visit counts are not visits suolink can replay
    )
    assert steam.created_at == datetime(2016, 8, 21, 18, 34, 16, tzinfo=UTC)
    app = shortener.get("app-dl")
    assert dict(app.targets) == {
        "android": "https://play.google.com/store/apps/details?id=com.example.app",
        "ios": "https://apps.apple.com/app/id123456789",
    }
    assert (app.max_visits, app.title) == (5000, "Get the app — 下载应用")
    assert app.expires_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert shortener.get("old-promo").expires_at is None  # a past validUntil drops


def test_shlink_web_client_csv_sample() -> None:
    text = (SAMPLES / "shlink-web-client.csv").read_text()
    assert detect_format(text) == "shlink"
    shortener, skipped = imported("shlink-web-client.csv")
    assert list(skipped) == ["docs", "bad url"]
    assert "reserved" in skipped["docs"]  # suolink's own routes' words stay free
    spring = shortener.get("spring24")
    assert (spring.title, spring.tags) == ("Spring sale, 30% off", ("sale", "spring", "2024"))
    assert spring.url == "https://shop.example.com/spring?ref=short"
    xmas = shortener.get("xmas")
    assert xmas.title == '"Quoted" 圣诞快乐'
    assert xmas.url.startswith("https://example.com/")


def test_yourls_export_csv_sample_without_a_header() -> None:
    assert detect_format((SAMPLES / "yourls-export.csv").read_text()) == "yourls"
    shortener, skipped = imported("yourls-export.csv")
    assert list(skipped) == ["js"]
    assert shortener.get("ozh").title == "Ozh RICHARD, the blog"
    assert shortener.get("ozh").created_at == datetime(2009, 9, 14, 19, 27, 22, tzinfo=UTC)
    assert shortener.get("1a").url == "https://example.com/a-long/path?with=query&and=more"
    assert shortener.get("1a").title is None


def test_yourls_api_sample() -> None:
    shortener, skipped = imported("yourls-api-stats.json")
    assert skipped == {}
    assert {link.code for link in shortener.iter_links()} == {"ozh", "wiki"}
    assert shortener.get("wiki").title == "URL shortening - Wikipedia"


def test_kutt_api_sample() -> None:
    assert detect_format((SAMPLES / "kutt-links.json").read_text()) == "kutt"
    shortener, skipped = imported("kutt-links.json")
    assert list(skipped) == ["secret"]  # its password cannot come along: not opened up
    assert "password" in skipped["secret"]
    home = shortener.get("kt-home")
    assert (home.title, home.disabled) == ("Home page", False)
    assert home.created_at == datetime(2021, 1, 1, tzinfo=UTC)
    assert shortener.get("launch").expires_at == datetime(2099, 1, 1, tzinfo=UTC)
    assert shortener.get("spam").disabled  # banned in Kutt stays off


@pytest.mark.parametrize(
    "data",
    [
        {"shortUrls": {"data": [1, "x", None, {"longUrl": 5, "meta": [1], "tags": "t"}]}},
        {"data": [{"target": 5, "address": ["x"]}, 7]},
        {"links": {"a": 3, "b": {"url": ["x"], "shorturl": 9}}},
    ],
    ids=["shlink", "kutt", "yourls"],
)
def test_hostile_entries_are_skipped_not_a_crash(data: object) -> None:
    shortener = Shortener("memory://")
    report = import_records(shortener, read_text(json.dumps(data)))
    assert report.created == 0
    assert report.skipped
    assert list(shortener.iter_links()) == []
