"""A scripted, OpenAI-compatible chat-completions server for recording test cassettes.

No model API is reachable from the test environment, so cassettes are recorded against this
server. It answers ``POST /v1/chat/completions`` with hand-checked JSON answers
(``tests/responses/<id>.json``) in whatever shape the request asks for, which lets the real
``openai`` client and ``instructor`` run end to end over loopback. Standard library only.

Fixture lookup
    The answer is the fixture whose article text occurs in the concatenated text of the request's
    messages (string content or list-of-parts content). Comparison is done after NFC
    normalisation and collapsing whitespace runs to one space, so ``strip()``/``dedent`` by the
    caller do not matter. If several articles match, nested matches are dropped (the longest
    article wins); two unrelated articles in one request, or none, give an HTTP 400.

Answer shape
    * ``tools`` in the body (instructor ``TOOLS``): one tool call to the forced function
      (``tool_choice``, else ``tools[0]``), ``content`` null, finish_reason ``tool_calls``.
    * otherwise (``JSON``, ``JSON_SCHEMA``, ``MD_JSON``): ``content`` is the JSON text,
      finish_reason ``stop``. It is wrapped in a ```json fence only when the body has no
      ``response_format`` and a non-assistant message mentions "```json" (``MD_JSON``).

Scenarios, chosen by substrings of the request's ``model`` (they combine; no match = normal)
    * ``reask-once``: attempt 1 gets :func:`corrupt` (answer), later attempts the real answer.
      Attempt = 1 + number of assistant messages in the request (stateless).
    * ``never-valid``: always the corrupted answer.
    * ``broken-json``: always invalid JSON (the first half of the serialised answer).
      Takes precedence over ``never-valid`` and ``reask-once``.
    * ``broken-reask``: attempt 1 gets :func:`corrupt` (answer) (well-formed, fails a check), every
      re-ask invalid JSON.
    * ``no-usage``: answers carry no ``usage`` (as some OpenAI-compatible servers do).
    * ``refuse-key``: every request whose body contains it (a chat request naming it as its model,
      or a Batch API upload of such requests) gets HTTP 401 with a message that echoes the bearer
      key, as some providers do. The one place the server reads a request header.
    * ``rate-limited``: the first request per (model, fixture id) gets HTTP 429 with
      ``retry-after: 1`` and ``x-ratelimit-remaining-requests: 0``; later ones are served.
    * ``server-error-once``: the first request per (model, fixture id) gets HTTP 500.
      If both gates are requested, the 429 comes first, then the 500, then answers.
    Gate counters live in the server; :meth:`ScriptedServer.reset` clears them.
    * ``truncated-context``: ``prompt_tokens`` is reported as at most :data:`NUM_CTX`, as Ollama
      does when it cuts a prompt to its ``num_ctx`` without a word.
    * ``ungrounded``: a ``PairVerdict`` answer (``resolve --adjudicate``, see
      :func:`pair_verdict_answer`) also cites a span found in neither event.

Usage (deterministic estimates, see :func:`estimate_usage`)
    ``prompt_tokens = ceil((message chars + len(json.dumps(tools))) / 4)`` where message chars
    are text contents plus assistant tool-call arguments; ``response_format`` is not counted.
    ``completion_tokens = ceil(len(output) / 4)``. ``cached_tokens`` simulates prefix caching:
    0 on a first attempt; on a re-ask it is the prompt tokens of the messages before the first
    assistant message plus the tools, i.e. exactly the first attempt's ``prompt_tokens``
    (no 1024-token threshold, unlike the real API).

Stable output for cassettes: ``created`` is fixed, ids are derived from fixture id and attempt
(``chatcmpl-scripted-<id>-<attempt>``, tool call ``call_<attempt>``), and the ``Date`` header
is fixed. Request headers (e.g. Authorization) are never read back, echoed or logged (except by
``refuse-key``), and nothing is written to stderr per request.

Load, faults and the Batch API (batch jobs and their benchmark), all off by default
    * ``Traffic(rpm=..., fault_rate=..., faults=..., seed=..., hang_s=..., limit_headers=...)``:
      a requests-per-minute limit (a token bucket holding one second's worth, at least 1, full
      at the start)
      answered with HTTP 429 and ``retry-after`` / ``retry-after-ms``; and faults injected into
      that share of the requests, drawn from a seeded RNG in arrival order: ``server_error``
      (HTTP 500), ``timeout`` (the answer comes after ``hang_s``), ``malformed_json`` (half an
      answer) and ``schema_invalid`` (an answer whose first event has a PLOVER category outside
      the schema). ``latency_s=0`` answers at once (the 100k-article stream).
      ``limit_headers=True`` states the RPM limit in ``x-ratelimit-limit-requests`` on every
      answer, as OpenAI does.
    * A scripted Files + Batches API: ``POST /v1/files`` (multipart, ``purpose=batch``),
      ``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}`` and
      ``GET /v1/batches`` (newest first; ``limit``, ``after``, ``has_more``). A batch
      answers every line with the chat logic above (faults included, no latency or RPM limit)
      when it is created and keeps its ``metadata``; ``GET /v1/batches/{id}`` reports
      ``in_progress`` ``batch_polls`` times, then ``completed`` with an output file (2xx lines)
      and an error file (the rest); listing does not count as a poll. Ids are counters
      (``file-scripted-1``, ``batch_scripted_1``), so cassettes are stable.

Manual use: ``python tests/scripted_server.py --port 8000 [--root .]``.
"""

from __future__ import annotations

import argparse
import copy
import email.parser
import json
import math
import random
import re
import sys
import threading
import time
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import scripted_chunks

CREATED = 1_700_000_000
FIXED_HTTP_DATE = "Tue, 14 Nov 2023 22:13:20 GMT"  # == CREATED, keeps cassette headers stable
FABRICATED_SENTENCE = "We will never negotiate with anyone, ever."
RESPONSES_DIR = Path("tests/responses")
ARTICLE_DIRS: tuple[Path, ...] = (Path("examples"), Path("tests/data/articles"))
SCENARIOS = (
    "reask-once",
    "never-valid",
    "broken-json",
    "broken-reask",
    "rate-limited",
    "server-error-once",
    "no-usage",
    "refuse-key",
    "truncated-context",
)
MODELS = ("scripted", *(f"scripted-{name}" for name in SCENARIOS))

NUM_CTX = 2048  # the context ``truncated-context`` pretends to cut prompts to
FAULTS = ("server_error", "timeout", "malformed_json", "schema_invalid")

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Traffic:
    """Load behaviour: an RPM limit answered with 429, and faults injected at ``fault_rate``."""

    rpm: float | None = None
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULTS
    seed: int = 0
    hang_s: float = 5.0  # how long a ``timeout`` fault keeps the client waiting
    limit_headers: bool = False  # state ``rpm`` in ``x-ratelimit-limit-requests``, as OpenAI does


@dataclass(frozen=True)
class Fixture:
    """One scripted exchange: the article the request must contain and the answer to return."""

    id: str
    article: str
    answer: dict[str, Any]


def load_fixtures(
    root: Path,
    *,
    responses_dir: Path = RESPONSES_DIR,
    article_dirs: Sequence[Path] = ARTICLE_DIRS,
) -> dict[str, Fixture]:
    """Load ``<root>/<responses_dir>/<id>.json`` answers with their article text.

    The article is the first of ``<root>/<dir>/<id>.txt`` over ``article_dirs``. Answers without
    an article (or with an empty one) are skipped; a non-object answer is skipped with a warning;
    invalid JSON raises ``ValueError`` naming the file.
    """
    fixtures: dict[str, Fixture] = {}
    response_root = root / responses_dir
    if not response_root.is_dir():
        return fixtures
    for path in sorted(response_root.glob("*.json")):
        fixture_id = path.stem
        article_path = next(
            (p for d in article_dirs if (p := root / d / f"{fixture_id}.txt").is_file()), None
        )
        if article_path is None:
            continue
        article = article_path.read_text(encoding="utf-8")
        if not article.strip():
            continue
        try:
            answer = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: invalid JSON: {exc}") from exc
        if not isinstance(answer, dict):
            warnings.warn(f"{path}: answer is not a JSON object; skipped", stacklevel=2)
            continue
        fixtures[fixture_id] = Fixture(id=fixture_id, article=article, answer=answer)
    return fixtures


def corrupt(answer: Mapping[str, Any]) -> dict[str, Any]:
    """Return a deep copy of ``answer`` with exactly one string replaced by a fabrication.

    The replacement is :data:`FABRICATED_SENTENCE`, which occurs in no article, so a grounding
    validator must reject it. Target, in order: ``quotes[0]["text"]``; else
    ``events[0]["evidence"][0]``; else ``summary["bullets"][0]["evidence"][0]``.
    ``ValueError`` if none of these exists. The input is never modified.
    """
    bad = copy.deepcopy(dict(answer))
    quotes = bad.get("quotes")
    if isinstance(quotes, list) and quotes and isinstance(quotes[0], dict) and "text" in quotes[0]:
        quotes[0]["text"] = FABRICATED_SENTENCE
        return bad
    summary = bad.get("summary")
    for items in (bad.get("events"), summary.get("bullets") if isinstance(summary, dict) else None):
        if isinstance(items, list) and items and isinstance(items[0], dict):
            evidence = items[0].get("evidence")
            if isinstance(evidence, list) and evidence and isinstance(evidence[0], str):
                evidence[0] = FABRICATED_SENTENCE
                return bad
    raise ValueError("answer has no quote text or evidence string to corrupt")


def scenarios(model: str) -> frozenset[str]:
    """The scenario names that occur in ``model`` (empty = normal behaviour)."""
    return frozenset(name for name in SCENARIOS if name in model)


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the ``text`` of each part in a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def attempt_number(messages: Sequence[Mapping[str, Any]]) -> int:
    """1 + the number of assistant messages (each one is an earlier, rejected answer)."""
    return 1 + sum(1 for m in messages if m.get("role") == "assistant")


def _message_chars(message: Mapping[str, Any]) -> int:
    chars = len(content_text(message.get("content")))
    for call in message.get("tool_calls") or []:
        arguments = call.get("function", {}).get("arguments") if isinstance(call, dict) else None
        if isinstance(arguments, str):
            chars += len(arguments)
    return chars


def estimate_usage(body: Mapping[str, Any], output: str) -> dict[str, Any]:
    """Deterministic OpenAI-style ``usage`` for a request body and the returned output text."""
    messages: list[Mapping[str, Any]] = list(body.get("messages") or [])
    tools_chars = len(json.dumps(body["tools"])) if body.get("tools") else 0
    prompt = math.ceil((sum(map(_message_chars, messages)) + tools_chars) / 4)
    completion = math.ceil(len(output) / 4)
    cached = 0
    first_assistant = next(
        (i for i, m in enumerate(messages) if m.get("role") == "assistant"), None
    )
    if first_assistant is not None:
        prefix = messages[:first_assistant]
        cached = math.ceil((sum(map(_message_chars, prefix)) + tools_chars) / 4)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _error(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code}}


class _Reply(Exception):
    """Carries an HTTP error reply out of request handling."""

    def __init__(self, status: int, body: dict[str, Any], headers: Headers | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or []


def _bad_request(message: str) -> _Reply:
    return _Reply(400, _error(message, "invalid_request_error"))


class ScriptedServer:
    """The scripted server. Binds on construction; serves from :meth:`start` (or ``with``).

    ``url`` is the OpenAI ``base_url`` (``http://HOST:PORT/v1``); ``requests`` collects every
    chat-completions request body (a dict), including those answered with an error.
    """

    def __init__(
        self,
        fixtures: Mapping[str, Fixture] | Iterable[Fixture],
        *,
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        traffic: Traffic | None = None,
        batch_polls: int = 1,
    ) -> None:
        items = fixtures.values() if isinstance(fixtures, Mapping) else fixtures
        self.fixtures: dict[str, Fixture] = {f.id: f for f in items}
        self.latency_s = latency_s
        self.requests: list[dict[str, Any]] = []
        self._normalized = {fid: _normalize(f.article) for fid, f in self.fixtures.items()}
        self._counters: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.traffic = traffic or Traffic()
        self.faults_served: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self.rate_limited = 0
        self._rng = random.Random(self.traffic.seed)
        # (tokens, when) of the RPM limit: full at the start, as an idle account's is
        self._bucket = (max(1.0, (self.traffic.rpm or 0) / 60), time.monotonic())
        self.batch_polls = batch_polls
        self.files: dict[str, tuple[str, bytes]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._polls: dict[str, int] = {}
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``."""
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def start(self) -> ScriptedServer:
        """Serve in a daemon thread (idempotent)."""
        if self._closed:
            raise RuntimeError("server was stopped")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"scripted-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for manual use)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def reset(self) -> None:
        """Clear the per-(model, fixture) counters of the one-shot scenarios."""
        with self._lock:
            self._counters.clear()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ request handling

    def handle_chat(self, body: Any) -> tuple[int, dict[str, Any], Headers]:
        """Answer one chat-completions request body: ``(status, json body, extra headers)``."""
        if isinstance(body, dict):
            with self._lock:
                self.requests.append(body)
        wait = self._over_rpm()
        if wait is not None:
            status, payload, headers = self._rate_limit_reply(wait)
        else:
            if self.latency_s > 0:
                time.sleep(self.latency_s)
            status, payload, headers = self._answer(body)
        if self.traffic.limit_headers and self.traffic.rpm:
            headers = [*headers, ("x-ratelimit-limit-requests", f"{self.traffic.rpm:g}")]
        return status, payload, headers

    def _answer(self, body: Any) -> tuple[int, dict[str, Any], Headers]:
        fault = self._draw_fault()
        if fault == "timeout":
            time.sleep(self.traffic.hang_s)
        try:
            if fault == "server_error":
                raise _Reply(500, _error("Injected fault (scripted).", "server_error"))
            return 200, self._complete(body, fault), []
        except _Reply as reply:
            return reply.status, reply.body, reply.headers

    def _draw_fault(self) -> str | None:
        traffic = self.traffic
        if traffic.fault_rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= traffic.fault_rate:
                return None
            fault = self._rng.choice(traffic.faults)
            self.faults_served[fault] += 1
        return fault

    def _over_rpm(self) -> float | None:
        """Seconds until the next request is allowed, or None when this one is admitted."""
        rpm = self.traffic.rpm
        if not rpm:
            return None
        rate = rpm / 60.0
        capacity = max(1.0, rate)
        with self._lock:
            tokens, then = self._bucket
            now = time.monotonic()
            tokens = min(capacity, tokens + (now - then) * rate)
            if tokens >= 1.0:
                self._bucket = (tokens - 1.0, now)
                return None
            self._bucket = (tokens, now)
            self.rate_limited += 1
            return (1.0 - tokens) / rate

    def _rate_limit_reply(self, wait: float) -> tuple[int, dict[str, Any], Headers]:
        message = (
            f"Rate limit reached (scripted) on requests per min (RPM): Limit {self.traffic.rpm}. "
            f"Please try again in {wait:.3f}s."
        )
        headers = [
            ("retry-after", str(math.ceil(wait))),
            ("retry-after-ms", str(math.ceil(wait * 1000))),
            ("x-ratelimit-remaining-requests", "0"),
        ]
        return 429, _error(message, "requests", "rate_limit_exceeded"), headers

    def _complete(self, body: Any, fault: str | None = None) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad_request("Request body must be a JSON object.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _bad_request("'messages' must be a list of objects.")
        if body.get("stream"):
            raise _bad_request("The scripted server does not stream.")
        model = str(body.get("model", "scripted"))
        verdicts = verdicts_answer(body, messages)  # the --verify call (summarizer.verify)
        verdicts = verdicts or scripted_chunks.reduce_answer(body, messages, _tool_name)
        fixture = Fixture("verify", "", verdicts) if verdicts else None
        pair = pair_verdict_answer(body, messages, model)  # resolve --adjudicate
        fixture = fixture or (Fixture("adjudicate", "", pair) if pair else None)
        fixture = fixture or self._find_fixture(messages)
        wanted = scenarios(model)
        self._gate(wanted, model, fixture.id)

        attempt = attempt_number(messages)
        text = json.dumps(fixture.answer, ensure_ascii=False)
        broken_reask = "broken-reask" in wanted and attempt > 1
        if "broken-json" in wanted or fault == "malformed_json" or broken_reask:
            text = text[: max(1, len(text) // 2)]  # a proper prefix of an object: never valid
        elif fault == "schema_invalid":
            text = json.dumps(_schema_invalid(fixture.answer), ensure_ascii=False)
        elif "never-valid" in wanted or (wanted & {"reask-once", "broken-reask"} and attempt == 1):
            try:
                text = json.dumps(corrupt(fixture.answer), ensure_ascii=False)
            except ValueError as exc:
                msg = f"Fixture {fixture.id!r} cannot be corrupted: {exc}."
                raise _bad_request(msg) from exc

        message: dict[str, Any]
        if body.get("tools"):
            message = {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": f"call_{attempt}",
                        "type": "function",
                        "function": {"name": _tool_name(body), "arguments": text},
                    }
                ],
            }
            finish_reason, output = "tool_calls", text
        else:
            output = f"```json\n{text}\n```" if _wants_codeblock(body, messages) else text
            message = {"role": "assistant", "content": output, "refusal": None}
            finish_reason = "stop"
        reply = {
            "id": f"chatcmpl-scripted-{fixture.id}-{attempt}",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_scripted",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
            ],
            "usage": estimate_usage(body, output),
        }
        if "no-usage" in wanted:
            del reply["usage"]
        elif "truncated-context" in wanted:
            usage = reply["usage"]
            usage["prompt_tokens"] = min(usage["prompt_tokens"], NUM_CTX)
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return reply

    # ------------------------------------------------------------------ Files + Batches API

    def upload_file(self, content_type: str, raw: bytes) -> dict[str, Any]:
        """``POST /v1/files``: store a multipart upload's ``file`` part."""
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        parts = {
            p.get_param("name", header="content-disposition"): p
            for p in message.get_payload()
            if isinstance(message.get_payload(), list)
        }
        upload = parts.get("file")
        if upload is None:
            raise _bad_request("multipart upload has no 'file' part")
        content = upload.get_payload(decode=True) or b""
        purpose = (
            (parts["purpose"].get_payload(decode=True) or b"").decode()
            if "purpose" in parts
            else ""
        )
        with self._lock:
            file_id = f"file-scripted-{len(self.files) + 1}"
            self.files[file_id] = (upload.get_filename() or "upload.jsonl", content)
        return self._file_object(file_id, purpose or "batch")

    def _file_object(self, file_id: str, purpose: str) -> dict[str, Any]:
        name, content = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": CREATED,
            "filename": name,
            "purpose": purpose,
            "status": "processed",
        }

    def file_content(self, file_id: str) -> bytes:
        if file_id not in self.files:
            raise _Reply(404, _error(f"No such file {file_id!r}.", "invalid_request_error"))
        return self.files[file_id][1]

    def create_batch(self, body: Any) -> dict[str, Any]:
        """``POST /v1/batches``: answer every request line now; results show after polling."""
        if not isinstance(body, dict) or body.get("input_file_id") not in self.files:
            raise _bad_request("input_file_id must name an uploaded file")
        if body.get("completion_window") != "24h":
            raise _bad_request("completion_window must be '24h'")
        outputs: list[bytes] = []
        errors: list[bytes] = []
        lines = self.files[body["input_file_id"]][1].decode("utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            request = json.loads(line)
            if request.get("url") != body.get("endpoint"):
                raise _bad_request(f"line {number}: url differs from the batch endpoint")
            with self._lock:
                self.requests.append(request["body"])
            status, payload, _ = self._answer(request["body"])
            record = {
                "id": f"batch_req_{number}",
                "custom_id": request["custom_id"],
                "response": {"status_code": status, "request_id": f"req_{number}", "body": payload},
                "error": None,
            }
            (outputs if status == 200 else errors).append(json.dumps(record).encode())
        with self._lock:
            batch_id = f"batch_scripted_{len(self.batches) + 1}"
            result_ids = []
            for kind, records in (("output", outputs), ("errors", errors)):
                file_id = f"file-scripted-{len(self.files) + 1}"
                content = b"".join(r + b"\n" for r in records)
                self.files[file_id] = (f"{batch_id}_{kind}.jsonl", content)
                result_ids.append(file_id if records else None)
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "errors": None,
                "input_file_id": body["input_file_id"],
                "completion_window": "24h",
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": CREATED,
                "metadata": body.get("metadata"),
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_results": (result_ids[0], result_ids[1], len(outputs), len(errors)),
            }
        return self.get_batch(batch_id, poll=False)

    def list_batches(self, query: str) -> dict[str, Any]:
        """``GET /v1/batches?limit=&after=``: newest first, cursor-paginated; does not poll."""
        params = parse_qs(query)
        text = params.get("limit", ["20"])[0]
        limit = int(text) if text.isdigit() else 0
        if not 1 <= limit <= 100:
            raise _bad_request("limit must be between 1 and 100")
        with self._lock:
            ids = list(reversed(self.batches))
        after = params.get("after", [None])[0]
        if after is not None and after not in ids:
            raise _Reply(404, _error(f"No such batch {after!r}.", "invalid_request_error"))
        start = ids.index(after) + 1 if after else 0
        page = ids[start : start + limit]
        return {
            "object": "list",
            "data": [self.get_batch(batch_id, poll=False) for batch_id in page],
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
            "has_more": start + limit < len(ids),
        }

    def get_batch(self, batch_id: str, *, poll: bool = True) -> dict[str, Any]:
        """``GET /v1/batches/{id}``: ``in_progress`` for ``batch_polls`` polls, then done."""
        if batch_id not in self.batches:
            raise _Reply(404, _error(f"No such batch {batch_id!r}.", "invalid_request_error"))
        with self._lock:
            batch = self.batches[batch_id]
            if poll:
                self._polls[batch_id] = polls = self._polls.get(batch_id, 0) + 1
                output_id, error_id, done, failed = batch["_results"]
                if polls > self.batch_polls:
                    batch.update(status="completed", completed_at=CREATED)
                    batch.update(output_file_id=output_id, error_file_id=error_id)
                    batch["request_counts"] = {
                        "total": done + failed,
                        "completed": done,
                        "failed": failed,
                    }
                else:
                    batch["status"] = "in_progress"
            return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _find_fixture(self, messages: list[dict[str, Any]]) -> Fixture:
        haystack = _normalize("\n".join(content_text(m.get("content")) for m in messages))
        hits = [fid for fid, text in self._normalized.items() if text in haystack]
        # Drop articles that only match because they are part of a longer matching article.
        hits = [
            fid
            for fid in hits
            if not any(o != fid and self._normalized[fid] in self._normalized[o] for o in hits)
        ]
        if len(hits) == 1:
            return self.fixtures[hits[0]]
        if not hits and (part := scripted_chunks.chunk_of(messages, self.fixtures)) is not None:
            fixture_id, chunk = part  # a chunk of a long document (tests/scripted_chunks.py)
            answer = scripted_chunks.chunk_answer(self.fixtures[fixture_id].answer, chunk)
            return Fixture(fixture_id, chunk, answer)
        if not hits:
            msg = (
                "No scripted fixture's article occurs in the request messages "
                f"({len(self.fixtures)} fixtures loaded)."
            )
        else:
            msg = f"The request messages contain several fixture articles: {sorted(hits)}."
        raise _bad_request(msg)

    def _gate(self, wanted: frozenset[str], model: str, fixture_id: str) -> None:
        """Raise the one-shot 429/500 replies for the first request per (model, fixture)."""
        for gate in ("rate-limited", "server-error-once"):
            if gate not in wanted:
                continue
            with self._lock:
                key = (gate, model, fixture_id)
                self._counters[key] = count = self._counters.get(key, 0) + 1
            if count > 1:
                continue
            if gate == "rate-limited":
                raise _Reply(
                    429,
                    _error(
                        f"Rate limit reached for {model} (scripted) on requests per min (RPM): "
                        "Limit 1, Used 1, Requested 1. Please try again in 1s.",
                        "requests",
                        "rate_limit_exceeded",
                    ),
                    [("retry-after", "1"), ("x-ratelimit-remaining-requests", "0")],
                )
            raise _Reply(
                500,
                _error(
                    "The server had an error while processing your request (scripted).",
                    "server_error",
                ),
            )


def _schema_invalid(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``answer`` that breaks the schema: the first event's PLOVER category is unknown
    (or, without events, the summary is missing)."""
    bad = copy.deepcopy(dict(answer))
    if bad.get("events"):
        bad["events"][0]["plover"] = "NOT_A_CATEGORY"
    else:
        bad.pop("summary", None)
    return bad


VERDICTS_SCHEMA = "BulletVerdicts"
_BULLETS = re.compile(r"<bullets>(.*?)</bullets>", re.DOTALL)
_CLAIM_WORDS = re.compile(r"\d+(?:[.,]\d+)*|(?<=\s)[A-Z][A-Za-z]+")
_NEGATIONS = frozenset({"not", "no", "never", "denied", "denies", "without"})


def verdicts_answer(
    body: Mapping[str, Any], messages: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Verdicts for a ``BulletVerdicts`` request (tool or JSON-schema name), else None.

    The bullets come as JSON between ``<bullets>`` tags. A bullet is ``supported`` when every
    number and every capitalised word after its first word occurs in its evidence (case folded)
    and it adds no negation the evidence lacks; otherwise ``unsupported``, naming those words.
    """
    schema = body.get("response_format") or {}
    names = {_tool_name(body) if body.get("tools") else None}
    names.add((schema.get("json_schema") or {}).get("name") if isinstance(schema, dict) else None)
    if VERDICTS_SCHEMA not in names:
        return None
    found = _BULLETS.search("\n".join(content_text(m.get("content")) for m in messages))
    if found is None:
        raise _bad_request("A BulletVerdicts request needs <bullets>[...]</bullets>.")
    verdicts = []
    for item in json.loads(found.group(1)):
        evidence = " ".join(item["evidence"]).lower()
        words = set(re.findall(r"[a-z']+", evidence))
        missing = [w for w in _CLAIM_WORDS.findall(item["text"]) if w.lower() not in evidence]
        missing += [w for w in re.findall(r"[a-z']+", item["text"].lower())
                    if w in _NEGATIONS and w not in words]  # fmt: skip
        verdicts.append(
            {
                "bullet": item["bullet"],
                "verdict": "unsupported" if missing else "supported",
                "reasons": f"not in the evidence: {', '.join(missing)}"
                if missing
                else "every number and name is in the evidence",
            }
        )
    return {"verdicts": verdicts}


PAIR_SCHEMA = "PairVerdict"
_EVENTS = re.compile(r"<(article-[0-9a-f]{16})>\n(.*?)\n</\1>", re.DOTALL)


def pair_verdict_answer(
    body: Mapping[str, Any], messages: list[dict[str, Any]], model: str
) -> dict[str, Any] | None:
    """A verdict for a ``PairVerdict`` request (``summarizer.adjudicate``), else None.

    Events A and B come as JSON between boundary tags. The rule, in order: they share a target
    or actor name -> ``same`` (``follow_up`` when their PLOVER categories differ); both name
    people, none in common -> ``different``; same date and place -> ``same``; else
    ``different``. Spans: each event's first evidence text. A model name containing
    ``ungrounded`` adds a span found in neither event (:data:`FABRICATED_SENTENCE`).
    """
    schema = body.get("response_format") or {}
    names = {_tool_name(body) if body.get("tools") else None}
    names.add((schema.get("json_schema") or {}).get("name") if isinstance(schema, dict) else None)
    if PAIR_SCHEMA not in names:
        return None
    found = _EVENTS.search("\n".join(content_text(m.get("content")) for m in messages))
    if found is None:
        raise _bad_request("A PairVerdict request needs the events between boundary tags.")
    events = json.loads(found.group(2))
    a, b = events["A"], events["B"]
    people_a, people_b = ({n.lower() for n in e["actors"] + e["targets"]} for e in (a, b))
    shared = sorted(people_a & people_b)
    if shared:
        relation = "same" if a["plover"] == b["plover"] else "follow_up"
        reasons = f"both name {', '.join(shared)}"
    elif people_a and people_b:
        relation, reasons = "different", "they name different people"
    elif a["date"] and a["date"] == b["date"] and a["place_text"] == b["place_text"]:
        relation, reasons = "same", f"same date {a['date']} and place {a['place_text']}"
    else:
        relation, reasons = "different", "no name in common, another date or place"
    spans = [e["evidence"][0] for e in (a, b) if e["evidence"]]
    if "ungrounded" in model:
        spans.append(FABRICATED_SENTENCE)
    return {"same_event": relation == "same", "relation": relation, "reasons": reasons,
            "spans": spans}  # fmt: skip


def _tool_name(body: Mapping[str, Any]) -> str:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return str(choice["function"].get("name"))
    tool = body["tools"][0]
    return str(tool.get("function", {}).get("name", "")) if isinstance(tool, dict) else ""


def _wants_codeblock(body: Mapping[str, Any], messages: list[dict[str, Any]]) -> bool:
    if body.get("response_format"):
        return False
    return any(
        "```json" in content_text(m.get("content"))
        for m in messages
        if m.get("role") != "assistant"
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout fault, killed job) is not a server error: stay quiet."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted"
    sys_version = ""
    timeout = 30  # idle keep-alive connections give up their thread

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing (never leak request lines or headers to stderr)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        return FIXED_HTTP_DATE

    def _path(self) -> str:
        return urlsplit(self.path).path.rstrip("/")

    def _send(self, status: int, body: dict[str, Any], headers: Headers | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers or []:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_bytes(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _batch_api_get(self, app: ScriptedServer, path: str) -> bool:
        """Files + Batches GET routes; False when ``path`` is not one of them."""
        parts = path.removeprefix("/v1").strip("/").split("/")
        try:
            if parts[0] == "files" and len(parts) == 3 and parts[2] == "content":
                self._send_bytes(app.file_content(parts[1]))
            elif parts == ["batches"]:
                self._send(200, app.list_batches(urlsplit(self.path).query))
            elif parts[0] == "batches" and len(parts) == 2:
                self._send(200, app.get_batch(parts[1]))
            else:
                return False
        except _Reply as reply:
            self._send(reply.status, reply.body, reply.headers)
        return True

    def _batch_api_post(self, app: ScriptedServer, path: str, raw: bytes) -> bool:
        """Files + Batches POST routes; False when ``path`` is not one of them."""
        path = path.removeprefix("/v1")
        try:
            if path == "/files":
                self._send(200, app.upload_file(self.headers.get("Content-Type", ""), raw))
            elif path == "/batches":
                self._send(200, app.create_batch(json.loads(raw)))
            else:
                return False
        except _Reply as reply:
            self._send(reply.status, reply.body, reply.headers)
        except (ValueError, KeyError) as exc:
            self._send(400, _error(f"Bad request: {exc}", "invalid_request_error"))
        return True

    def do_GET(self) -> None:
        app = cast(_HTTPServer, self.server).app
        if self._batch_api_get(app, self._path()):
            return
        if self._path() in ("/v1/models", "/models"):
            data = [
                {"id": m, "object": "model", "created": CREATED, "owned_by": "scripted"}
                for m in MODELS
            ]
            self._send(200, {"object": "list", "data": data})
        else:
            self._send(404, _error(f"Unknown path {self._path()!r}.", "invalid_request_error"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        if b"refuse-key" in raw:  # the scenario: a provider that echoes the key it refuses
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}. You can find your API key elsewhere."
            self._send(401, _error(message, "invalid_request_error", "invalid_api_key"))
            return
        if self._batch_api_post(cast(_HTTPServer, self.server).app, self._path(), raw):
            return
        if self._path() not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, _error(f"Unknown path {self._path()!r}.", "invalid_request_error"))
            return
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._send(400, _error("Request body is not valid JSON.", "invalid_request_error"))
            return
        app = cast(_HTTPServer, self.server).app
        try:
            status, payload, headers = app.handle_chat(body)
        except Exception as exc:  # a bug here must surface as a response, not a stderr trace
            status, payload, headers = 500, _error(f"scripted server bug: {exc!r}", "bug"), []
        self._send(status, payload, headers)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server in the foreground: ``python tests/scripted_server.py --port 8000``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="project root holding tests/responses, examples, tests/data/articles",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args(argv)
    fixtures = load_fixtures(args.root)
    server = ScriptedServer(fixtures, latency_s=args.latency, host=args.host, port=args.port)
    print(f"scripted server: {len(fixtures)} fixtures, base_url {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
