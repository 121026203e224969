"""Bytes -> text, refusing what is not text. The first gate every input passes."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from worker.errors import EmptyInput, NotText, TooLarge, UndecodableText

# Magic numbers of common binary formats that sometimes arrive with a .txt/.html name.
_BINARY_MAGIC = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"BZh",
    b"\x7fELF", b"MZ", b"\x00\x00\x01\x00", b"RIFF", b"OggS", b"\xfd7zXZ", b"7z\xbc\xaf",
)


def decode_body(raw: bytes, *, max_bytes: int, declared_charset: str | None = None) -> str:
    """Decode an input body to text, or raise a PermanentError that says why it is unusable."""
    if len(raw) > max_bytes:
        raise TooLarge(f"{len(raw):,} bytes is over the {max_bytes:,}-byte limit (STORYLINE_LIMITS__MAX_BYTES)")
    if not raw.strip():
        raise EmptyInput("the input is empty or only whitespace")
    if raw.startswith(_BINARY_MAGIC):
        raise NotText(f"binary content (starts with {raw[:4]!r}), not text or HTML")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return _decode_with(raw, "utf-32" if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else "utf-16")
    head = raw[:65536]
    if b"\x00" in head:
        # NUL bytes mean binary, or UTF-16/32 without a BOM: let charset detection decide,
        # and accept only a result that is mostly printable.
        return _detect(raw, reason_if_none="binary content (NUL bytes) that no text encoding explains")
    if declared_charset:
        try:
            return raw.decode(declared_charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few broken bytes (a truncated character, one bad paste) is still UTF-8:
    # keep it with replacement characters rather than guess a legacy charset. Evidence of UTF-8:
    # more valid multi-byte characters than broken ones, and at most one broken per 1,000.
    lenient = raw.decode("utf-8", errors="replace")
    broken = lenient.count("\ufffd")
    # characters above U+007F, counted in C: the length less the ASCII ones
    multibyte = len(lenient) - len(lenient.encode("ascii", errors="ignore")) - broken
    if multibyte > broken and broken <= max(1, len(lenient) // 1000):
        return lenient
    return _detect(raw, reason_if_none="not valid UTF-8 and no other encoding gives readable text")


def _decode_with(raw: bytes, encoding: str) -> str:
    try:
        return _check_printable(raw.decode(encoding))
    except UnicodeDecodeError as exc:
        raise UndecodableText(f"declared {encoding} but does not decode: {exc}") from exc


def _detect(raw: bytes, *, reason_if_none: str) -> str:
    best = from_bytes(raw[:1_000_000]).best()
    if best is None:
        raise NotText(reason_if_none) if b"\x00" in raw[:65536] else UndecodableText(reason_if_none)
    try:
        text = raw.decode(best.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UndecodableText(f"detected {best.encoding} but it does not decode: {exc}") from exc
    return _check_printable(text)


def _check_printable(text: str) -> str:
    """Refuse text that is mostly control characters (a binary file decoded by force)."""
    sample = text[:20000]
    if not sample.strip():
        raise EmptyInput("the input decodes to whitespace only")
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    if bad / len(sample) > 0.01:
        raise NotText(f"{bad} control characters in the first {len(sample)}: binary, not text")
    return text
