"""Prompt templates: static prefix first, article last, rendered by instructor as a variable."""

from __future__ import annotations

from instructor.v2.core.templating import apply_template

from summarizer import prompts, taxonomy
from summarizer.source import make_article


def test_system_message_carries_the_code_tables_and_no_template_syntax() -> None:
    prompt = prompts.load()
    assert "{{" not in prompt.system and "{%" not in prompt.system
    for name in [*taxonomy.PLOVER, *taxonomy.ACLED_SUB_TO_TYPE, *taxonomy.PLOVER_SECTORS]:
        assert name in prompt.system
    roles = [m["role"] for m in prompt.messages()]
    assert roles == ["system", "user"]
    assert "{{ article }}" in prompt.messages()[-1]["content"]


def test_article_braces_survive_instructor_templating() -> None:
    text = "Militants wrote {{ secret }} and {% raw %} on a wall; {# not a comment #} stays."
    article = make_article(text, published="2020-03-13", title="A {{ title }}")
    context = prompts.context(article)
    rendered = apply_template(prompts.load().user_template, context)
    assert text in rendered
    assert "Publication date: 2020-03-13 (Friday)" in rendered
    assert "Title: A {{ title }}" in rendered
    # The system message passes through instructor's templating unchanged.
    assert apply_template(prompts.load().system, context).strip() == prompts.load().system.strip()


def test_unknown_publication_date_is_said_plainly() -> None:
    rendered = apply_template(prompts.load().user_template, prompts.context(make_article("x")))
    assert "Publication date: unknown" in rendered


def test_prompt_version_is_a_hash_of_the_templates() -> None:
    prompt = prompts.load()
    assert len(prompt.version) == 12 and int(prompt.version, 16) >= 0
    changed = prompts.Prompt(system=prompt.system + " ", user_template=prompt.user_template)
    assert changed.version != prompt.version
