"""Optional model-based check (``--verify``): a second, separate model call judges each summary
bullet against its cited evidence spans and returns a verdict with reasons.

The model's verdicts become issues: ``verify_unsupported`` [error] the verifier found the bullet
unsupported by its evidence; ``verify_partial`` [warning] partly supported; ``verify_missing``
[warning] the verifier gave no verdict for a bullet. Templates: ``prompts/verify_system.j2`` and
``prompts/verify_user.j2`` (the bullets reach the template as the variable ``{{ bullets }}``, so
braces in news text are never read as template syntax).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field

from summarizer import llm
from summarizer.resources import data_dir
from summarizer.schema import ArticleAnalysis, Issue, Usage
from summarizer.settings import Settings

SYSTEM_TEMPLATE = "verify_system.j2"
USER_TEMPLATE = "verify_user.j2"


class BulletVerdict(BaseModel):
    bullet: int = Field(description="Index of the bullet, from 0.")
    verdict: Literal["supported", "partly_supported", "unsupported"]
    reasons: str = Field(description="The bullet's words the evidence does not support, or why "
                         "it is supported.")  # fmt: skip


class BulletVerdicts(BaseModel):
    """One verdict per summary bullet."""

    verdicts: list[BulletVerdict]


def messages() -> list[dict[str, str]]:
    folder = data_dir("prompts")
    return [
        {"role": "system", "content": (folder / SYSTEM_TEMPLATE).read_text(encoding="utf-8")},
        {"role": "user", "content": (folder / USER_TEMPLATE).read_text(encoding="utf-8")},
    ]


def context(analysis: ArticleAnalysis) -> dict[str, Any]:
    bullets = [
        {"bullet": i, "text": b.text, "evidence": [s.text for s in b.evidence]}
        for i, b in enumerate(analysis.summary.bullets)
    ]
    # "<" as its JSON escape: no bullet or evidence text can close the <bullets> block
    text = json.dumps(bullets, indent=1, ensure_ascii=False).replace("<", "\\u003c")
    return {"bullets": text}


def verify(
    analysis: ArticleAnalysis, settings: Settings, *, client: Any = None
) -> tuple[BulletVerdicts, Usage]:
    """Ask the model for a verdict on every bullet; raises ModelError/ProviderError on failure."""
    outcome = llm.call(
        client or llm.client(settings),
        settings,
        messages(),
        context(analysis),
        BulletVerdicts,
        record_id=analysis.article.id,
    )
    if not isinstance(outcome.value, BulletVerdicts):
        raise outcome.error or RuntimeError("no verdicts")
    return outcome.value, outcome.usage


def apply(analysis: ArticleAnalysis, verdicts: BulletVerdicts, usage: Usage) -> ArticleAnalysis:
    """A copy of ``analysis`` with the verdicts as issues and the call counted in ``usage``."""
    result = analysis.model_copy(deep=True)
    given = {v.bullet: v for v in verdicts.verdicts}
    for i in range(len(result.summary.bullets)):
        path, v = f"summary.bullets[{i}]", given.get(i)
        if v is None:
            issue = Issue(severity="warning", path=path, code="verify_missing",
                          message="the verifier gave no verdict")  # fmt: skip
        elif v.verdict == "supported":
            continue
        else:
            unsupported = v.verdict == "unsupported"
            issue = Issue(
                severity="error" if unsupported else "warning",
                path=path,
                code="verify_unsupported" if unsupported else "verify_partial",
                message=f"the verifier model judged the bullet {v.verdict}: {v.reasons}",
            )
        result.validation.issues.append(issue)
    result.validation.ok = not any(i.is_error for i in result.validation.issues)
    u = result.usage
    u.calls += usage.calls
    u.prompt_tokens += usage.prompt_tokens
    u.completion_tokens += usage.completion_tokens
    u.cached_tokens += usage.cached_tokens
    u.latency_s = round(u.latency_s + usage.latency_s, 3)
    return result
