"""The markdown view (``run -f markdown``): hostile fields from the model and the input stay text
when the view is rendered by a real Markdown renderer (markdown-it-py, CommonMark with raw HTML
allowed, GFM tables), and reach the reader unchanged."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from scripted_records import scripted_records

from summarizer.errors import printable
from summarizer.output import to_markdown
from summarizer.schema import ArticleAnalysis, Issue

HOSTILE = {
    "id": '"><script>alert(1)</script>\x1b[2J',
    "source": "&lt;script&gt;alert(2)&lt;/script&gt;",  # entities stay text too
    "headline": "<script>alert(3)</script>",
    "one_sentence": "[x]: javascript:alert(4)",  # a link reference definition at line start
    "bullet": "[x] ![img](javascript:alert(5)) <img src=x onerror=alert(6)>",
    "event": "e1</script><!--",
    "summary": '<a href="javascript:alert(7)">*x*</a> `code`',
    "actor": "<svg onload=alert(8)>",
    "target": "[t](javascript:alert(9))",
    "place": "Baghdad\n\n<script>alert(10)</script>",  # a new HTML block, were it a new line
    "weapon": "<javascript:alert(11)>",  # an autolink
    "quote": "<iframe src=javascript:alert(12)></iframe>",
    "speaker": "_<b onmouseover=alert(13)>_",
    "issue": "<img src=x onerror=alert(14)> | cell",
}
SAFE_TAGS = {
    "h1",
    "h2",
    "p",
    "em",
    "strong",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def hostile(request: pytest.FixtureRequest, scripted_url: str) -> ArticleAnalysis:
    record = scripted_records(request.config, scripted_url)[0]
    record.article.id, record.article.source = HOSTILE["id"], HOSTILE["source"]
    s = record.summary
    s.headline, s.one_sentence, s.bullets[0].text = (
        HOSTILE["headline"],
        HOSTILE["one_sentence"],
        HOSTILE["bullet"],
    )
    e = record.events[0]
    e.id, e.summary = HOSTILE["event"], HOSTILE["summary"]
    e.actors[0].name, e.targets[0].name = HOSTILE["actor"], HOSTILE["target"]
    e.location.text, e.weapons[0].text = HOSTILE["place"], HOSTILE["weapon"]
    record.quotes[0].text, record.quotes[0].speaker.name = HOSTILE["quote"], HOSTILE["speaker"]
    issue = Issue(severity="warning", path="events[0]", code="planted", message=HOSTILE["issue"])
    record.validation.issues.append(issue)
    return record


def test_markdown_renders_hostile_fields_as_text(hostile: ArticleAnalysis) -> None:
    assert hostile.events[0].weapons and hostile.quotes  # the seed has both
    view = to_markdown(hostile)
    page = _Html()
    page.feed(MarkdownIt("commonmark").enable("table").render(view))

    tags = {tag for tag, _ in page.tags}
    assert tags <= SAFE_TAGS, tags - SAFE_TAGS  # no script, img, a, svg, iframe, b, html block
    attributes = [(tag, a) for tag, attrs in page.tags for a in attrs if a[0] != "style"]
    assert attributes == []  # no href, src, on...= anywhere
    assert hostile.events[0].id.startswith("e1<")  # still the hostile one
    text = "".join(page.text)
    for name, value in HOSTILE.items():  # every field reaches the reader, unchanged
        shown = printable(" ".join(value.splitlines()))
        assert shown in text, name
    assert "\x1b" not in view and "\\x1b[2J" in text  # the terminal escape is shown, not sent


def test_printable_shows_control_characters() -> None:
    hostile = "a\x1b[31mb\x07\x00\r\x9b\u202e\u2028\tc\nd"
    shown = "a\\x1b[31mb\\x07\\x00\\x0d\\x9b\\u202e\\u2028"
    assert printable(hostile, lines=True) == shown + "\tc\nd"  # a page keeps its lines
    assert printable(hostile) == shown + "\\x09c\\x0ad"  # a terminal line does not
