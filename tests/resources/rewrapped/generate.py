"""Build the "rewrapped" test feed: the five seed articles in the chrome of three made-up sites.

    .venv/bin/python tests/resources/rewrapped/generate.py

For each site and seed it writes ``<site>/<seed>.txt`` (a plain-text scrape) and
``<site>/<seed>.html`` (a full page), and ``manifest.json`` with what extraction must give
back: the seed's headline, authors and body paragraphs (taken from the cleaned seed, which
tests/extract/test_text.py checks against the seeds themselves), plus each page's URL and,
for HTML, its publication date. The sites (on the reserved ``.example`` domain) differ in
everything the cleaner has to cope with: header and navigation, ticker, breadcrumb, byline
and dateline style, share bars, ads and teasers inside the body, newsletter and app pitches,
related lists, comments and footers. Each also has one pitch inside the body that no rule can
know is chrome; only learning it from the site's other pages removes it.

Deterministic: running it again rewrites the same files.
"""

from __future__ import annotations

import html
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from worker.extract.text import clean_scrape  # noqa: E402

#: publication dates given to the seeds on the made-up sites (the seeds' own pages show only
#: the day they were scraped); 002's body mentions "February 24, 2022", which must not win
PUBLISHED = {"000": "2025-04-23", "001": "2025-05-15", "002": "2025-04-18", "003": "2025-02-12", "004": "2025-04-17"}


@dataclass
class Article:
    seed: str
    slug: str
    headline: str
    authors: list[str]
    paragraphs: list[str]
    published: str

    @property
    def long_date(self) -> str:
        """'23 April 2025'"""
        y, m, d = self.published.split("-")
        months = ["January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December"]
        return f"{int(d)} {months[int(m) - 1]} {y}"

    @property
    def us_date(self) -> str:
        """'April 23, 2025'"""
        day, month, year = self.long_date.split()
        return f"{month} {day}, {year}"


def _is_subheading(p: str) -> bool:
    return len(p.split()) <= 12 and not p.rstrip().endswith((".", "”", '"', "’"))


def _with(paragraphs: list[str], inserts: dict[int, str]) -> list[str]:
    """Body paragraphs with chrome lines inserted after the given paragraph numbers."""
    out = []
    for i, p in enumerate(paragraphs):
        out.append(p)
        if i in inserts and i < len(paragraphs) - 1:
            out.append(inserts[i])
    return out


# -- site 1: The Harbor Ledger (pipes, ticker, breadcrumb, "By X | date", share bar, ads) -----

HARBOR_PITCH = "The Harbor Ledger is reader-funded. Support independent coastal journalism from £5 a month and get every story first."


def harbor_txt(a: Article) -> str:
    byline = f"By {' and '.join(a.authors)} | {a.long_date}, 10:42 BST" if a.authors else f"By Staff Reporter | {a.long_date}"
    body = _with(a.paragraphs, {1: "Advertisement", 3: HARBOR_PITCH, 6: "Advertisement"})
    lines = [
        "Skip to content", "The Harbor Ledger", "Menu", "News | Politics | World | Business | Opinion",
        "Saturday, 14 June 2025", "BREAKING: Harbour bridge closed after overnight storm", "World › Europe",
        a.headline, byline, "Share this article", "Facebook", "X", "Email", *body,
        "Sign up to our morning briefing", "Enter your email address", "More from The Harbor Ledger",
        "Ferry fares to rise in September, operator confirms", "Council approves new sea wall after two-year delay",
        "© 2025 The Harbor Ledger. All rights reserved.", "Privacy Policy | Terms of Use | Contact",
    ]
    return "\n\n".join(lines) + "\n"


def harbor_html(a: Article, url: str) -> str:
    byline = (f'<p class="byline">By <a rel="author" href="/authors/x">{" and ".join(map(html.escape, a.authors))}</a></p>'
              if a.authors else '<p class="byline">By Staff Reporter</p>')
    meta_authors = f'<meta name="author" content="{html.escape(", ".join(a.authors))}">' if a.authors else ""
    body = "\n".join(_block(p) for p in _with(a.paragraphs, {1: "@ad", 3: HARBOR_PITCH, 6: "@ad"}))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(a.headline)} | The Harbor Ledger</title>
<meta property="og:title" content="{html.escape(a.headline)}">
<meta property="og:site_name" content="The Harbor Ledger">
<meta property="article:published_time" content="{a.published}T10:42:00+01:00">
{meta_authors}
<link rel="canonical" href="{url}?utm_source=rss&amp;utm_medium=feed">
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header><div class="logo">The Harbor Ledger</div>
<nav><ul><li><a href="/news">News</a></li><li><a href="/politics">Politics</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/opinion">Opinion</a></li></ul></nav>
<div class="date">Saturday, 14 June 2025</div></header>
<aside class="ticker"><strong>BREAKING:</strong> <a href="/bridge">Harbour bridge closed after overnight storm</a></aside>
<main id="main"><article>
<ol class="breadcrumb"><li><a href="/world">World</a></li><li><a href="/world/europe">Europe</a></li></ol>
<h1>{html.escape(a.headline)}</h1>
{byline}<time datetime="{a.published}">{a.long_date}</time>
<div class="share"><a href="#">Facebook</a> <a href="#">X</a> <a href="#">Email</a></div>
<div class="article-body">
{body}
</div></article>
<section class="newsletter"><h2>Sign up to our morning briefing</h2><form><input placeholder="Enter your email address"><button>Sign up</button></form></section>
<section class="related"><h2>More from The Harbor Ledger</h2><ul>
<li><a href="/ferry">Ferry fares to rise in September, operator confirms</a></li>
<li><a href="/wall">Council approves new sea wall after two-year delay</a></li></ul></section>
</main>
<footer><p>© 2025 The Harbor Ledger. All rights reserved.</p><p><a href="/privacy">Privacy Policy</a> | <a href="/terms">Terms of Use</a> | <a href="/contact">Contact</a></p></footer>
</body></html>
"""


# -- site 2: Northwind Daily (cookie banner, "Posted on date by X", reading time, read-more teasers, topics, comments) --

NORTHWIND_PITCH = "Northwind Daily has covered the region since 1987. Become a member today and keep local reporting alive."


def northwind_txt(a: Article) -> str:
    posted = f"Posted on {a.us_date} by {' and '.join(a.authors)}" if a.authors else f"Posted on {a.us_date}"
    body = _with(a.paragraphs, {2: "Read more: Fishing fleet returns early as prices fall", 4: NORTHWIND_PITCH})
    lines = [
        "NORTHWIND DAILY", "Log in | Subscribe",
        "We use cookies to improve your experience. By continuing, you agree to our cookie policy.", "Accept",
        "World", a.headline, posted, "5 min read", *body,
        "Topics: Ukraine, Russia, Diplomacy", "Comments (3)", "Comments are closed.",
        "Northwind Daily, independent news since 1987",
    ]
    return "\n".join(lines) + "\n"


def northwind_html(a: Article, url: str) -> str:
    author_html = (f' by <span class="author vcard"><a class="url fn n" href="/author/x">{" and ".join(map(html.escape, a.authors))}</a></span>'
                   if a.authors else "")
    body = "\n".join(_block(p) for p in _with(a.paragraphs, {2: "@teaser", 4: NORTHWIND_PITCH}))
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>{html.escape(a.headline)} – Northwind Daily</title>
<meta property="og:site_name" content="Northwind Daily">
<meta property="og:url" content="{url}">
<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": a.headline, "datePublished": a.published + "T07:00:00Z", "author": [{"@type": "Person", "name": n} for n in a.authors], "publisher": {"@type": "Organization", "name": "Northwind Daily"}})}</script>
</head><body class="post-template">
<div id="cookie-banner">We use cookies to improve your experience. By continuing, you agree to our cookie policy. <button>Accept</button></div>
<div class="site-header"><span class="site-title">NORTHWIND DAILY</span> <a href="/login">Log in</a> | <a href="/subscribe">Subscribe</a></div>
<div id="content"><div class="post">
<span class="cat-links"><a href="/category/world" rel="category tag">World</a></span>
<h1 class="entry-title">{html.escape(a.headline)}</h1>
<div class="entry-meta">Posted on <time class="entry-date published" datetime="{a.published}T07:00:00Z">{a.us_date}</time>{author_html} · 5 min read</div>
<div class="entry-content">
{body}
</div>
<footer class="entry-footer">Topics: <a href="/t/ukraine">Ukraine</a>, <a href="/t/russia">Russia</a>, <a href="/t/diplomacy">Diplomacy</a></footer>
</div>
<div id="comments"><h3>Comments (3)</h3><p class="no-comments">Comments are closed.</p></div>
</div>
<div class="site-footer">Northwind Daily, independent news since 1987</div>
</body></html>
"""


# -- site 3: Meridian Wire (abbreviated dates, slashes breadcrumb, "Words by X · Published", app pitch, most-read list) --

MERIDIAN_PITCH = "Get the Meridian Wire app for breaking news alerts, live blogs and the morning newsletter on your phone."


def meridian_txt(a: Article) -> str:
    who = f"Words by {' and '.join(a.authors)}" if a.authors else "Meridian Wire staff"
    body = _with(a.paragraphs, {0: MERIDIAN_PITCH})
    lines = [
        "MERIDIAN WIRE", "Search", "Sections", "Wed 25 Jun 2025 09:15 GMT", "Home / World / Europe",
        a.headline, f"{who} · Published {a.long_date}", "Listen to this article", *body,
        "Most read", "1. Grain prices jump as shipping lanes reopen", "2. Heatwave warning issued for the south",
        "Follow us on Facebook, X and Instagram", "About us | Careers | Advertise",
    ]
    return "\n\n".join(lines) + "\n"


def meridian_html(a: Article, url: str) -> str:
    who = f'Words by <a class="author" href="/people/x">{" and ".join(map(html.escape, a.authors))}</a>' if a.authors else "Meridian Wire staff"
    meta_authors = "".join(f'<meta property="article:author" content="{html.escape(n)}">' for n in a.authors)
    body = "\n".join(_block(p) for p in _with(a.paragraphs, {0: MERIDIAN_PITCH}))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(a.headline)} - Meridian Wire</title>
<meta property="og:title" content="{html.escape(a.headline)}">
<meta property="og:site_name" content="Meridian Wire">
<meta name="date" content="{a.published}">
{meta_authors}
<link rel="canonical" href="{url.replace("https://meridianwire", "HTTPS://MeridianWire")}#top">
</head><body>
<div class="masthead">MERIDIAN WIRE <a href="/search">Search</a> <a href="/sections">Sections</a> <span>Wed 25 Jun 2025 09:15 GMT</span></div>
<div class="crumbs"><a href="/">Home</a> / <a href="/world">World</a> / <a href="/world/europe">Europe</a></div>
<div class="story">
<h1 class="story-title">{html.escape(a.headline)}</h1>
<div class="story-meta">{who} · Published {a.long_date}</div>
<button class="listen">Listen to this article</button>
<div class="story-body">
{body}
</div></div>
<div class="most-read"><h3>Most read</h3><ol><li><a href="/grain">Grain prices jump as shipping lanes reopen</a></li>
<li><a href="/heat">Heatwave warning issued for the south</a></li></ol></div>
<div class="footer">Follow us on <a href="#">Facebook</a>, <a href="#">X</a> and <a href="#">Instagram</a>
<p><a href="/about">About us</a> | <a href="/careers">Careers</a> | <a href="/ads">Advertise</a></p></div>
</body></html>
"""


def _block(p: str) -> str:
    """One body block in HTML: an ad slot, a teaser, a subheading or a paragraph."""
    if p == "@ad":
        return '<div class="ad-slot"><span>Advertisement</span></div>'
    if p == "@teaser":
        return '<aside class="read-more">Read more: <a href="/fleet">Fishing fleet returns early as prices fall</a></aside>'
    return f"<h2>{html.escape(p)}</h2>" if _is_subheading(p) else f"<p>{html.escape(p)}</p>"


SITES: dict[str, tuple[str, Callable[[Article], str], Callable[[Article, str], str]]] = {
    "harborledger": ("https://www.harborledger.example/world/europe/{slug}", harbor_txt, harbor_html),
    "northwind": ("https://news.northwind.example/{published}/{slug}/", northwind_txt, northwind_html),
    "meridianwire": ("https://meridianwire.example/story/{slug}", meridian_txt, meridian_html),
}
PITCHES = {"harborledger": HARBOR_PITCH, "northwind": NORTHWIND_PITCH, "meridianwire": MERIDIAN_PITCH}


def seed_articles() -> list[Article]:
    out = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        seed = path.name[:3]
        clean = clean_scrape(path.read_text(encoding="utf-8"))
        assert clean.title, f"seed {seed} has no headline"
        slug = "-".join(w.lower() for w in "".join(c if c.isalnum() else " " for c in clean.title).split()[:8])
        out.append(Article(seed, slug, clean.title, list(clean.authors), clean.text.split("\n\n"), PUBLISHED[seed]))
    return out


def main() -> None:
    manifest: dict = {"sites": {}, "articles": {}}
    articles = seed_articles()
    for a in articles:
        manifest["articles"][a.seed] = {"headline": a.headline, "authors": a.authors, "paragraphs": a.paragraphs,
                                        "published": a.published}
    for site, (url_pattern, to_txt, to_html) in SITES.items():
        folder = HERE / site
        folder.mkdir(exist_ok=True)
        pages = {}
        for a in articles:
            url = url_pattern.format(slug=a.slug, published=a.published.replace("-", "/"))
            (folder / f"{a.seed}.txt").write_text(to_txt(a), encoding="utf-8")
            (folder / f"{a.seed}.html").write_text(to_html(a, url), encoding="utf-8")
            pages[a.seed] = url
        manifest["sites"][site] = {"urls": pages, "learned_only_chrome": PITCHES[site]}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(SITES)} sites x {len(articles)} articles (.txt and .html) under {HERE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
