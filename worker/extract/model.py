"""What extraction produces: one clean article with its metadata (a plain value)."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.words import word_count


@dataclass(frozen=True)
class ExtractedArticle:
    text: str
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    site: str | None = None
    language: str | None = None
    url: str | None = None
    #: which extractor's body was kept (HTML path: trafilatura | readability:short | readability:list |
    #: readability:truncated, see html.extract_html; plain-text path: None), for counting
    #: and debugging
    body_source: str | None = None

    @property
    def word_count(self) -> int:
        """Words in spaced scripts, characters in unspaced ones (Han, kana, Thai, ...): see
        worker/words.py."""
        return word_count(self.text)
