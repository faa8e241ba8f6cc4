"""One input reader for every command that takes articles: the same formats, metadata and
errors for ``run``, ``batch``, ``report --articles`` and ``validate --articles``; URLs are read
from a local server."""

from __future__ import annotations

import csv
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import ROOT, TEST_KEY
from typer.testing import CliRunner

from summarizer import cli, inputs, pipeline
from summarizer.batch import inputs as batch_inputs
from summarizer.batch.journal import ErrorRecord
from summarizer.demo import run as run_demo
from summarizer.errors import InputError
from summarizer.records import load_texts
from summarizer.source import Article

runner = CliRunner()
EXAMPLE = ROOT / "examples" / "centcom-strikes-iraq"
PARAGRAPH = "Rebels attacked a police post in Cuzco on Friday, the army said. " * 4
PAGE = (
    "<html><head><title>Attack in Cuzco</title>"
    '<meta property="article:published_time" content="2020-03-02"></head>'
    f"<body><nav>Home | World</nav><article><p>{PARAGRAPH}</p></article></body></html>"
)


def _inputs(tmp_path: Path) -> dict[str, Path]:
    """A CSV with the example article and a second row, and a folder with a text and a page."""
    table = tmp_path / "articles.csv"
    with table.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text", "published"])
        writer.writerow(["seed", EXAMPLE.with_suffix(".txt").read_text(encoding="utf-8"), ""])
        writer.writerow(["other", "Talks resumed in Geneva.", "2020-03-01"])
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "plain.txt").write_text("A bomb exploded in Lima on Monday.", encoding="utf-8")
    (folder / "page.html").write_text(PAGE, encoding="utf-8")
    return {"csv": table, "folder": folder}


def test_report_and_validate_read_what_batch_reads(tmp_path: Path) -> None:
    """Before: a .csv was one text (every record then failed source_mismatch) and a folder's
    .html files were ignored."""
    for path in _inputs(tmp_path).values():
        batch = {a.sha256: a.text for a in batch_inputs.read([str(path)])}  # type: ignore[union-attr]
        assert load_texts(path) == batch and len(batch) == 2
    page = next(t for t in load_texts(tmp_path / "docs").values() if "Cuzco" in t)
    assert "<p>" not in page and "Home | World" not in page


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's record of the example article (replayed from cassettes/demo)."""
    seed = next(r for r in run_demo() if r.article.id == EXAMPLE.name)
    path = tmp_path_factory.mktemp("records") / "seed.jsonl"
    path.write_text(seed.model_dump_json() + "\n", encoding="utf-8")
    return path


def test_validate_articles_csv_matches_records(tmp_path: Path, record: Path) -> None:
    paths = _inputs(tmp_path)
    result = runner.invoke(cli.app, ["validate", str(record), "--articles", str(paths["csv"])])
    assert "source_mismatch" not in result.stdout, result.stdout
    assert result.exit_code == 0, result.output


def test_commands_give_the_same_error(tmp_path: Path, record: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": 5}\n', encoding="utf-8")
    (item,) = batch_inputs.read([str(bad)])
    assert isinstance(item, ErrorRecord)
    for args in (
        ["validate", str(record), "--articles", str(bad)],
        ["report", str(record), "--articles", str(bad), "-o", str(tmp_path / "r.html")],
    ):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 2
        assert result.stderr.strip() == f"error: {item.message}"


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[Article]:
    """The articles ``run`` would send to the model (the model is not called)."""
    seen: list[Article] = []

    def fake(article: Article, settings: Any) -> Any:
        seen.append(article)
        raise InputError("stop here")

    monkeypatch.setattr(pipeline, "analyze", fake)  # `run` imports it when it runs
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    return seen


def test_run_reads_html_as_batch_does(tmp_path: Path, analysed: list[Article]) -> None:
    """Before: ``run page.html`` sent the page's markup to the model."""
    page = _inputs(tmp_path)["folder"] / "page.html"
    args = ["run", str(page), "--base-url", "http://127.0.0.1:9", "--source", "Andina"]
    assert runner.invoke(cli.app, args).exit_code == 2
    (article,) = analysed
    (batch,) = batch_inputs.read([str(page)])
    assert article.text == batch.text and "<p>" not in article.text  # type: ignore[union-attr]
    assert (article.title, str(article.published)) == ("Attack in Cuzco", "2020-03-02")
    assert article.source == "Andina"  # an option adds to what the page says


def test_run_takes_one_record_of_a_table(tmp_path: Path, analysed: list[Article]) -> None:
    paths = _inputs(tmp_path)
    result = runner.invoke(cli.app, ["run", str(paths["csv"]), "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "holds more than one article" in result.stderr
    one = tmp_path / "one.jsonl"
    one.write_text('{"id": "x1", "text": "Talks resumed.", "title": "T"}\n', encoding="utf-8")
    runner.invoke(cli.app, ["run", str(one), "--base-url", "http://127.0.0.1:9"])
    assert [(a.id, a.title, a.text) for a in analysed] == [("x1", "T", "Talks resumed.")]


# ------------------------------------------------------------------------------------------ URLs


class _Pages(http.server.BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/article": ("text/html; charset=utf-8", PAGE.encode()),
        "/plain": ("text/plain; charset=utf-8", b"Talks resumed in Geneva."),
        "/big": ("text/html", b"<p>" + b"x" * 5000 + b"</p>"),
    }

    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/x" if "ftp" in self.path else "/plain")
            self.end_headers()
            return
        if self.path not in self.pages:
            self.send_error(404, "Not Found")
            return
        kind, body = self.pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_urls_are_read_like_files(server: str, tmp_path: Path) -> None:
    names = [f"{server}/article", f"{server}/plain", f"{server}/missing", f"{server}/big"]
    assert batch_inputs.check(names) == names and batch_inputs.count(names) == 4
    page, plain, missing, big = batch_inputs.read(names, max_chars=300)  # pages up to 4,800 bytes
    assert isinstance(page, Article) and isinstance(plain, Article)
    folder_page = _inputs(tmp_path)["folder"] / "page.html"
    assert page.text == inputs.read_one(str(folder_page)).text  # the same extraction
    assert (page.title, str(page.published), page.url) == (
        "Attack in Cuzco",
        "2020-03-02",
        names[0],
    )
    assert plain.text == "Talks resumed in Geneva." and plain.url == names[1]
    assert isinstance(missing, ErrorRecord) and "HTTP 404" in missing.message
    assert missing.id == names[2]
    assert isinstance(big, ErrorRecord) and "more than 4,800 bytes" in big.message
    assert "the limit is 300 characters (--max-chars)" in big.message
    assert inputs.read_one(f"{server}/redirect").text == plain.text  # http(s) redirects followed
    with pytest.raises(InputError, match=re.escape("redirect to 'ftp://127.0.0.1/x' refused")):
        inputs.read_one(f"{server}/redirect-ftp")
    assert load_texts(names[1]) == {plain.sha256: plain.text}
    # the report finds a record's text at a URL (a record of the demo, pointed at that text)
    seed = run_demo()[0]
    seed.article.text_sha256 = plain.sha256
    records = tmp_path / "plain.jsonl"
    records.write_text(seed.model_dump_json() + "\n", encoding="utf-8")
    args = ["report", str(records), "--source", names[1], "-o", str(tmp_path / "r.html")]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0 and "no article text" not in result.stderr, result.output


@pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
def test_unreachable_url_is_an_error_record() -> None:
    url = "http://127.0.0.1:9/nothing-listens-here"
    (item,) = batch_inputs.read([url])
    assert isinstance(item, ErrorRecord) and item.message.startswith(f"cannot fetch {url}")
    with pytest.raises(InputError, match="cannot fetch"):
        inputs.read_one(url)
