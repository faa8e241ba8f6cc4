"""Re-checking stored records: the pipeline's rules (:func:`summarizer.checks.check`) run again
over records made by any model or any earlier version, against the texts they were made from.

Two more rules apply to stored records: ``source_mismatch`` [error], the record's
``article.text_sha256`` is not the SHA-256 of the given source text (no other check runs then:
offsets into another text mean nothing); ``validation_inconsistent`` [error], ``validation.ok``
contradicts the record's own list of issues (false with no error listed, or true with one).

Issues a stored record states but the rules cannot find again (those of grounding, such as a
dropped quotation's ``span_unaligned``, and of ``--verify``) count as the record states them, so a
record is never called clean while its own verdict says it failed.

Strictness decides what fails: ``strict`` fails a record with any error; ``lenient`` accepts a
record whose own ``validation`` already flags its errors (``ok`` false, each error listed) and fails
only a record that passes itself off as clean, or hides errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from summarizer.checks import check, check_language
from summarizer.errors import printable
from summarizer.records import sha256
from summarizer.schema import ArticleAnalysis, Issue

Strictness = Literal["strict", "lenient"]


@dataclass
class Verdict:
    """One record re-checked: every issue found now, and whether it fails under a strictness."""

    record: ArticleAnalysis
    issues: list[Issue]

    @property
    def stated(self) -> list[Issue]:
        """The record's own issues that were not found again (grounding's, ``--verify``'s)."""
        found = {(i.code, i.path) for i in self.issues}
        return [i for i in self.record.validation.issues if (i.code, i.path) not in found]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues + self.stated if i.is_error]

    @property
    def hidden(self) -> list[Issue]:
        """Errors the record's own ``validation`` does not admit to."""
        flagged = {(i.code, i.path) for i in self.record.validation.issues if i.is_error}
        if self.record.validation.ok:
            return self.errors
        return [i for i in self.errors if (i.code, i.path) not in flagged]

    def failed(self, strictness: Strictness) -> bool:
        return bool(self.errors if strictness == "strict" else self.hidden)


def recheck(record: ArticleAnalysis, text: str | None) -> Verdict:
    """Run every rule over ``record`` against ``text`` (None: no source text was given)."""
    a = record.article
    if text is None or sha256(text) != a.text_sha256:
        what = "no given text" if text is None else "the given text differs"
        issue = Issue(
            severity="error",
            path="article.text_sha256",
            code="source_mismatch",
            message=f"{what}: the record was made from the text with SHA-256 {a.text_sha256[:16]}…",
        )
        return Verdict(record, [issue])
    issues = list(check_language(a.language))
    issues += check(record.events, record.quotes, record.summary, text, a.published)
    v = record.validation
    if v.ok == any(i.is_error for i in v.issues):
        listed = sum(i.is_error for i in v.issues)
        issues.append(
            Issue(
                severity="error",
                path="validation.ok",
                code="validation_inconsistent",
                message=f"validation.ok is {str(v.ok).lower()} but the record lists {listed} "
                "error(s)",
            )
        )
    return Verdict(record, issues)


def recheck_all(records: Iterable[ArticleAnalysis], texts: dict[str, str]) -> list[Verdict]:
    """Re-check each record against the text in ``texts`` (keyed by SHA-256) it was made from."""
    return [recheck(r, texts.get(r.article.text_sha256)) for r in records]


def report(verdicts: list[Verdict], strictness: Strictness) -> str:
    """A readable report: one line per record, its issues below it, a closing count (control
    characters escaped: ids and messages quote hostile input)."""
    lines = []
    for v in verdicts:
        status = "FAIL" if v.failed(strictness) else ("flagged" if v.errors else "ok")
        warnings = len(v.issues) + len(v.stated) - len(v.errors)
        lines.append(
            f"{status:7} {v.record.article.id}  {len(v.errors)} error(s), {warnings} warning(s)"
            + (f", {len(v.hidden)} not flagged by the record" if v.hidden else "")
        )
        lines += [f"        {i.severity} {i.code} {i.path}: {i.message}" for i in v.issues]
        lines += [
            f"        {i.severity} {i.code} {i.path}: {i.message} (stated by the record)"
            for i in v.stated
        ]
    failed = sum(v.failed(strictness) for v in verdicts)
    lines.append(
        f"{len(verdicts)} record(s): {sum(not v.errors for v in verdicts)} clean, "
        f"{failed} failed ({strictness})"
    )
    return "".join(printable(line) + "\n" for line in lines)


def as_json(verdicts: list[Verdict], strictness: Strictness) -> list[dict[str, object]]:
    return [
        {
            "id": v.record.article.id,
            "text_sha256": v.record.article.text_sha256,
            "failed": v.failed(strictness),
            "record_ok": v.record.validation.ok,
            "errors": len(v.errors),
            "hidden_errors": len(v.hidden),
            "issues": [i.model_dump() for i in v.issues],
            "stated_issues": [i.model_dump() for i in v.stated],
        }
        for v in verdicts
    ]
