"""The input stage refuses what it cannot process, with one clear line."""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import pytest

from summarizer.errors import InputError
from summarizer.source import MAX_CHARS, make_article, parse_date, read_text


def test_article_defaults() -> None:
    article = make_article("Rockets hit Taji.", published=dt.date(2020, 3, 11))
    assert article.key == f"sha256-{article.sha256[:16]}"
    assert make_article("Rockets hit Taji.", id="a1").key == "a1"


@pytest.mark.parametrize(
    ("text", "needle"),
    [("", "empty"), ("  \n\t", "empty"), ("x" * (MAX_CHARS + 1), f"limit is {MAX_CHARS:,}")],
)
def test_unusable_text(text: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        make_article(text)


def test_bad_metadata_is_one_line() -> None:
    with pytest.raises(InputError) as caught:
        make_article("text", published="yesterday")  # type: ignore[arg-type]
    assert "\n" not in str(caught.value) and "published" in str(caught.value)


def test_read_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffKataib Hezbollah’s rockets".encode())
    assert read_text(str(path)) == "Kataib Hezbollah’s rockets"  # BOM dropped
    path.write_bytes(b"\xff\xfe broken")
    with pytest.raises(InputError, match="not UTF-8 text"):
        read_text(str(path))
    with pytest.raises(InputError, match="cannot read"):
        read_text(str(tmp_path / "missing.txt"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin")))
    assert read_text("-") == "from stdin"


def test_parse_date() -> None:
    assert parse_date("2020-03-13") == dt.date(2020, 3, 13)
    assert parse_date(None) is None
    with pytest.raises(InputError, match="ISO date"):
        parse_date("13/03/2020", "--published")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("20200313", "'20200313'"),  # accepted by date.fromisoformat since Python 3.11
        ("2020-W11-5", "'2020-W11-5'"),
        ("2020-03-13T10:00", "'2020-03-13T10:00'"),
        ("２０２０-03-13", "'２０２０-03-13'"),  # full-width digits
        ("2020-02-30", "'2020-02-30'"),
        (20200313, "a number"),
        (True, "a boolean"),
        ({"x": 1}, "an object"),
        (["2020-03-13"], "an array"),
        ("x" * 5000, "'" + "x" * 40 + "…'"),
    ],
)
def test_parse_date_takes_only_yyyy_mm_dd(value: object, shown: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_date(value, "--published")
    message = str(caught.value)
    assert message == f"--published must be an ISO date YYYY-MM-DD like 2020-03-13, not {shown}"


def test_an_article_takes_the_same_dates_as_parse_date() -> None:
    """Article itself applies the rule: pydantic alone read 1555200000 as a Unix time."""
    with pytest.raises(InputError, match="published must be an ISO date YYYY-MM-DD"):
        make_article("Talks resumed.", published=1_555_200_000)
    assert make_article("x", published="2019-04-14").published == dt.date(2019, 4, 14)
