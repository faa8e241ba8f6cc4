"""Prompt stage: the Jinja templates in ``prompts/`` rendered into chat messages.

The system message (instructions and the code tables, identical for every article) comes first and
the article last, so providers' prefix caching can reuse the prefix. The user message is left as a
template: instructor renders it with the ``context`` variables, so the article is passed as a value
and never parsed as Jinja (braces in news text stay intact).

The article is data, never instructions: it sits between an opening and a closing tag named by
:func:`boundary`, a name derived from the article and its metadata that occurs in none of them, so
no text inside the block can end it. The same article always gets the same tag (cassettes match
on the full request body).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

import jinja2

from summarizer import taxonomy
from summarizer.resources import data_dir
from summarizer.source import Article

SYSTEM_TEMPLATE = "system.j2"
USER_TEMPLATE = "user.j2"


@dataclass(frozen=True)
class Prompt:
    system: str
    user_template: str

    @property
    def version(self) -> str:
        """Hash of the rendered system message and the user template."""
        digest = hashlib.sha256(f"{self.system}\0{self.user_template}".encode()).hexdigest()
        return digest[:12]

    def messages(self) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user_template},
        ]


@functools.cache
def load() -> Prompt:
    """Read and render the templates (once per process)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_dir("prompts")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    system = env.get_template(SYSTEM_TEMPLATE).render(
        plover=taxonomy.PLOVER,
        plover_categories=", ".join(taxonomy.PLOVER),
        sectors=", ".join(taxonomy.PLOVER_SECTORS),
        igo_codes=", ".join(f"{k} {v}" for k, v in taxonomy.IGO_CODES.items()),
        cameo={k: sorted(v) for k, v in taxonomy.CAMEO_TO_PLOVER.items()},
        cameo_names=taxonomy.CAMEO_ROOTS,
        acled=taxonomy.ACLED,
        acled_to_plover=taxonomy.ACLED_TO_PLOVER,
    )
    assert "{{" not in system and "{%" not in system, "system prompt must not contain Jinja syntax"
    user = (data_dir("prompts") / USER_TEMPLATE).read_text(encoding="utf-8")
    return Prompt(system=system, user_template=user)


def boundary(*texts: str | None) -> str:
    """A tag name derived from ``texts`` that occurs in none of them (case folded)."""
    folded = [t.casefold() for t in texts if t]
    seed = "\0".join(folded).encode()
    for n in itertools.count():
        digest = hashlib.sha256(seed + f"\0{n}".encode()).hexdigest()
        tag = f"article-{digest[:16]}"
        if not any(tag in text for text in folded):
            return tag
    raise AssertionError("unreachable")


def context(article: Article) -> dict[str, Any]:
    """Template variables for the user message; also instructor's validation context."""
    published = article.published
    return {
        "article": article.text,
        "boundary": boundary(article.text, article.title, article.source),
        "published": published.isoformat() if published else None,
        "weekday": published.strftime("%A") if published else None,
        "title": article.title,
        "source": article.source,
    }


REDUCE_TEMPLATES = ("reduce_system.j2", "reduce_user.j2")
"""The reduce step of a chunked document: one summary from the summaries of its parts."""


@functools.cache
def load_reduce() -> Prompt:
    """The reduce step's system message and user template (read once per process)."""
    system, user = (data_dir("prompts") / n for n in REDUCE_TEMPLATES)
    return Prompt(system=system.read_text(encoding="utf-8"), user_template=user.read_text("utf-8"))


def reduce_context(article: Article, summaries: list[str]) -> dict[str, Any]:
    """Template variables of the reduce step: the parts' summaries (JSON lines) as data, and the
    whole document (``article``), against which instructor's validation checks the answer."""
    lines = "\n".join(summaries)
    return context(article) | {
        "summaries": lines,
        "parts": len(summaries),
        "boundary": boundary(lines, article.title, article.source),
    }
