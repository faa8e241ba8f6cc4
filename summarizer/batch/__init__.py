"""Batch jobs: many articles at the provider's pace, resumable, exactly once, cached, within a
budget. See :class:`~summarizer.batch.engine.Job` and the ``summarizer batch`` command."""

from summarizer.batch.engine import Job, Options, Stats, asummarize_many, summarize_many
from summarizer.batch.journal import ErrorRecord

__all__ = ["ErrorRecord", "Job", "Options", "Stats", "asummarize_many", "summarize_many"]
