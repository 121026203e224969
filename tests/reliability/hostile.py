"""The hostile-input corpus, generated on demand (a 50 MB page is not worth committing)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

#: file name -> error_type expected on its dead letter
EXPECTED = {
    "binary.txt": "not_text",
    "zero-bytes.txt": "empty_input",
    "page-50mb.html": "too_large",
    "gzip-bomb.html": "not_text",
    "invalid-utf8.txt": "undecodable_text",
    "utf16-nobom-garbage.txt": "no_content",
    # over the 50,000-tag bound (worker/extract/bounds.py): refused before any parser runs
    "nested-100k.html": "too_large",
    "p-tags-3mb.html": "too_large",
    "json-garbage.txt": "no_content",
    "repeated-line.txt": "no_content",
    "only-chrome.txt": "no_content",
}


def write_corpus(folder: Path) -> dict[str, str]:
    rnd = random.Random(42)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "binary.txt").write_bytes(bytes(rnd.getrandbits(8) for _ in range(200_000)))
    (folder / "zero-bytes.txt").write_bytes(b"")
    with (folder / "page-50mb.html").open("wb") as fh:
        fh.write(b"<html><body>")
        chunk = b"<p>" + b"lorem ipsum dolor sit amet " * 400 + b"</p>\n"
        for _ in range(50 * 1024 * 1024 // len(chunk) + 1):
            fh.write(chunk)
        fh.write(b"</body></html>")
    # 1 GiB of zeros compressed to ~1 MB: must never be inflated
    with gzip.open(folder / "gzip-bomb.html", "wb", compresslevel=9) as fh:
        block = b"\0" * (1024 * 1024)
        for _ in range(1024):
            fh.write(block)
    (folder / "invalid-utf8.txt").write_bytes(bytes(rnd.choice(range(0x80, 0x100)) for _ in range(20_000)))
    (folder / "utf16-nobom-garbage.txt").write_bytes(
        "".join(chr(rnd.choice(range(0x4E00, 0x4E40))) for _ in range(5000)).encode("utf-16-le"))
    # 3 MB of <p>: ~243 s and 1.4 GB of trafilatura before the bound (issue 19)
    (folder / "p-tags-3mb.html").write_bytes(b"<html><body>" + b"<p>" * 1_000_000 + b"</body></html>")
    (folder / "nested-100k.html").write_bytes(b"<html><body>" + b"<div>" * 100_000 + b"<p>deep</p>" + b"</div>" * 100_000 + b"</body></html>")
    (folder / "json-garbage.txt").write_text(json.dumps([{"id": i, "v": rnd.random(), "ok": None} for i in range(3000)]))
    (folder / "repeated-line.txt").write_text("Breaking news from Kyiv tonight.\n" * 2000)
    (folder / "only-chrome.txt").write_text("Top 5 This Week\nRelated Posts\nLEAVE A REPLY\nPlease enter your comment!\nPopular Articles\n")
    return EXPECTED
