"""Extract stage: raw bytes -> ExtractedArticle (clean text and metadata), or a PermanentError."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from itertools import islice

import ftfy
import py3langid

from worker.errors import NoContent, TooLarge
from worker.extract.bounds import check_markup
from worker.extract.decode import decode_body
from worker.extract.html import extract_html, looks_like_html
from worker.extract.model import ExtractedArticle
from worker.extract.text import clean_scrape, scrape_lines
from worker.words import is_alphabetic, is_cjk, iter_units, units

#: given a page's candidate lines, the ones learned as chrome for its site (see chrome.py)
LearnedChrome = Callable[[Sequence[str]], Collection[str]]

__all__ = ["ExtractedArticle", "LearnedChrome", "extract_document", "decode_body", "check_prose", "consent_signals"]


def check_prose(text: str, *, min_words: int, max_words: int) -> None:
    """Refuse text that is not an article: too short, too long, or not prose (code, data,
    one sentence repeated: too few distinct words for its length)."""
    # words of spaced scripts, characters of unspaced ones (worker/words.py): str.split() made
    # a 537-character Japanese article "21 words", and \w split Hindi words at vowel signs
    # the distinct-words test reads the first 2,500 characters (~400 words: where the wall
    # rule below stops applying, and far past where the need is capped at 40); the text is
    # tokenised once, in full only when max_words could be at stake (a unit is at least one
    # character), and otherwise counted only as far as the min_words and wall rules look
    sample = text[:_SAMPLE_CHARS]
    sample_units = units(sample)
    n_words = len(sample_units)
    if len(text) > len(sample):
        if len(text) > max_words:
            n_words = len(units(text))
        elif n_words < (enough := max(min_words, _WALL_MAX_WORDS)):
            n_words = sum(1 for _ in islice(iter_units(text), enough))
    if n_words < min_words:
        raise NoContent(f"only {n_words} words of article text (minimum {min_words}, STORYLINE_LIMITS__MIN_WORDS)")
    if n_words > max_words:
        raise TooLarge(f"{n_words:,} words is over the {max_words:,}-word limit for one article (STORYLINE_LIMITS__MAX_WORDS)")
    alpha = [u for u in sample_units if is_alphabetic(u)]
    distinct = len({w.casefold() for w in alpha})
    # a real article of n words has roughly sqrt(n)*3 distinct words or more (Heaps' law with
    # generous slack); data, markup and repeated boilerplate fall far below. In unspaced
    # scripts the units are characters: a Chinese or Japanese article of n characters uses far
    # more than 3*sqrt(n) distinct ones (capped at 40 either way), and a Thai one more than 40
    # distinct letter+mark units once it is over ~200 characters. Under _HEAPS_MIN units the
    # law says nothing (3*sqrt(n) > n below 9 words: no text could pass); min_words rules there.
    # In Chinese and Japanese the need is not capped: 2,500 characters are only some 1,500 words,
    # and a text drawn from a few dozen characters (the hostile corpus's UTF-16 garbage: 64
    # distinct in 2,500) must not pass as prose. The 12 CJK pages of the three development sets
    # have 1.7-5.2x the uncapped need (97 distinct of 350 at the least).
    heaps = int(3 * len(sample_units) ** 0.5)
    needed = (heaps if is_cjk(sample) else min(40, heaps)) if len(sample_units) >= _HEAPS_MIN else 0
    if distinct < needed or (needed and len(alpha) < 0.5 * len(sample_units)):
        raise NoContent(f"not prose: {distinct} distinct words in {len(sample_units)} tokens (data, code or repeated text)")
    if n_words >= _WALL_MAX_WORDS:
        return  # long enough to be an article that merely ends with a sign-up box (and the scan costs ~0.7 ms)
    if n_words < _BLOCK_MAX_WORDS:
        blocks = {m.group(0).lower() for m in _BLOCK_PAGE.finditer(sample)}
        if len(blocks) >= 2:
            raise NoContent(f"a bot check or access block page, not the article ({', '.join(sorted(blocks)[:4])})")
    walls = {m.group(0).lower() for m in _ACCESS_WALL.finditer(sample)}
    if len(walls) >= _WALL_SIGNALS:
        raise NoContent(f"a registration or paywall page, not the article ({', '.join(sorted(walls)[:4])} ...)")
    consent = consent_signals(sample)
    if consent:
        raise NoContent(f"a cookie or consent notice, not the article ({', '.join(consent)})")


def consent_signals(text: str) -> list[str]:
    """The kinds of consent-notice wording a short text holds, when they make it a cookie or
    consent notice (else []): cookies named, the site or the reader's browser addressed, and
    consent or privacy wording (both when cookies are named only once).

    Such a page stands in front of many articles of one site with the same text each time
    (SemEval-2022's German pairs: one notice in front of a concert review and a road accident);
    threaded, every notice of a site would form one story. A news report *about* cookies or
    consent rules names cookies, consent and privacy too, but as news: it does not speak as
    the site ("we use cookies", "our website") or to the reader's browser. No library finds
    these (trafilatura keeps them when they are all a page has), hence the phrase lists, for
    the languages of the development sets and the larger European and Asian ones."""
    cookies = len(_COOKIE.findall(text))
    if not cookies:
        return []
    kinds = [name for name, pattern in _CONSENT_KINDS if pattern.search(text)]
    if "site or browser" not in kinds or len(kinds) < 2:
        return []
    # cookies named once are enough when the site also asks for consent and speaks of privacy,
    # and the notice is nearly all the text (a notice that says "Cookies-Nutzung" once, then
    # "akzeptieren" and "Datenschutzerklärung", in German and Polish, stood in front of six
    # SemEval texts; a short report on a privacy fine that quotes "our website" and names a
    # cookie banner once has sentences of its own)
    once = cookies < 2
    if once and not {"consent", "privacy"} <= set(kinds):
        return []
    # and the notice is most of the text, not a box above a short article: the sentences that
    # name cookies or say any of the kinds hold at least half of its characters (most, named once)
    sentences = [x for x in _SENTENCES.split(text) if x.strip()]
    notice = sum(len(x) for x in sentences if _COOKIE.search(x) or any(p.search(x) for _, p in _CONSENT_KINDS))
    if notice < (_ONCE_NOTICE_SHARE if once else 0.5) * sum(map(len, sentences)):
        return []
    return ["cookies", *kinds]


#: phrases of registration, login and paywall pages ("TAKE A FREE TRIAL ... Email address First
#: Name"). Such a page in front of different articles is the same text each time: published, it
#: would be a false duplicate (seen on SemEval-2022 pairs) and carries no news.
_ACCESS_WALL = re.compile(
    r"register now|registered users|by registering|create (?:an|your) account|free trial|"
    r"enter your (?:details|email)|email address|first name|last name|password|sign in to|log in to|"
    r"already (?:a subscriber|have an account)|subscribe (?:now|to (?:continue|read))|to continue reading|"
    r"activate your account|print subscriber|this (?:article|content) is (?:for|available to) (?:subscribers|members)|"
    # the same page in the other languages of the development sets and the larger European
    # ones: several-word phrases and the words for "password", never single words that are
    # common in news ("registrati": "recorded", "войти": "to enter")
    r"jetzt (?:registrieren|anmelden|abonnieren)|registrierte nutzer|kostenlos testen|e-mail-adresse|passwort|"
    r"bereits abonnent|um weiterzulesen|(?:nur )?für abonnenten|"
    r"créer (?:un|votre) compte|adresse e-mail|mot de passe|déjà abonné|essai gratuit|réservé aux abonnés|"
    r"pour lire la suite|crear una cuenta|correo electrónico|contraseña|iniciar sesión|ya eres suscriptor|"
    r"prueba gratuita|exclusivo para suscriptores|para seguir leyendo|crea un account|indirizzo e-?mail|"
    r"sei già abbonato|prova gratuita|riservato agli abbonati|per continuare a leggere|criar (?:uma )?conta|"
    r"endereço de e-?mail|já é assinante|exclusivo para assinantes|para continuar (?:lendo|a ler)|account aanmaken|"
    r"e-mailadres|wachtwoord|al abonnee|word abonnee|załóż konto|adres e-mail|zaloguj się|masz już konto|"
    r"dla subskrybentów|создать аккаунт|адрес электронной почты|уже подписчик|оформите подписку|"
    r"только для подписчиков|hesap oluştur|e-posta adresi|giriş yap|abone ol",
    re.IGNORECASE,
)
#: phrases of a bot check or an access block served in place of the article ("we have recorded
#: a huge number of connections from your IP address ... tick I AM NOT A ROBOT": one such Polish
#: page was both texts of a SemEval pair). Several-word phrases, in the languages of the
#: development sets and the larger European and Asian ones; two distinct ones in a short text
_BLOCK_PAGE = re.compile(
    r"not a robot|are you a robot|verify (?:that )?you are (?:a )?human|unusual traffic|too many requests|"
    r"access (?:to this page )?(?:has been )?denied|you have been blocked|checking your browser|"
    r"enable javascript and cookies|your ip(?: address)?\b|ip address|complete the captcha|captcha|"
    r"automated (?:queries|requests|access)|"
    r"kein roboter|ungewöhnliche[nr]? (?:datenverkehr|zugriffe)|zugriff verweigert|ihre ip-adresse|zu viele anfragen|"
    r"pas un robot|accès refusé|trafic inhabituel|votre adresse ip|trop de requêtes|"
    r"no soy un robot|acceso denegado|tráfico inusual|tu dirección ip|demasiadas solicitudes|"
    r"non sono un robot|accesso negato|traffico insolito|il tuo indirizzo ip|"
    r"não sou um robô|acesso negado|tráfego incomum|seu endereço ip|"
    r"geen robot|toegang geweigerd|uw ip-adres|"
    r"nie jestem robotem|adres(?:u|em)? ip|dostęp zablokowany|nietypowy ruch|"
    r"я не робот|доступ (?:запрещ[её]н|ограничен)|ваш ip|подозрительн(?:ая|ую) активност|"
    r"robot değilim|erişim engellendi|ip adresiniz|"
    r"ロボットではありません|アクセスが拒否|不是机器人|访问被拒绝|您的ip|로봇이 아닙니다|접근이 거부|"
    r"لست روبوت|تم رفض الوصول",
    re.IGNORECASE,
)
#: the most units a bot-check or block page has: such pages are a few lines
_BLOCK_MAX_WORDS = 150
#: cookies by name: the English loanword most languages use, and the native words of those that do not
_COOKIE = re.compile(r"cookie|クッキー|쿠키|çerez|ملفات تعريف الارتباط|куки", re.IGNORECASE)
#: what else a consent notice says, by kind; a notice speaks as the site or to the reader's
#: browser ("site or browser"), and asks for consent or explains privacy
_CONSENT_KINDS = [
    ("site or browser", re.compile(
        r"\b(?:our|this) (?:web ?site|site|pages)|\byour browser|"
        r"unserer? (?:web ?seite|website|seite|angebot)|\bihre?m? browser|"
        r"\bnotre site|\bce site|\bvotre navigateur|nuestr[oa] (?:sitio|web|página)|\bsu navegador|"
        r"\bnostro sito|\b(?:tuo|vostro) browser|\bnosso (?:site|sítio)|\bseu navegador|"
        r"\bdiese (?:web ?seite|website|seite)|\bquesto sito|\beste (?:sitio|site)|witryn|stron(?:ie|y) internetow|"
        r"\bonze (?:web ?site|site)|\buw browser|\bnaszej stronie|\bnaszego serwisu|\bprzeglądar|"
        r"\bнаш(?:ем)? сайт|\bваш(?:ем)? браузер|sitemiz|tarayıcınız|موقعنا|متصفحك|"
        r"本网站|本站|您的浏览器|当サイト|本サイト|ブラウザ|당사|브라우저",
        re.IGNORECASE)),
    ("consent", re.compile(
        r"\bconsent|\bagree|\baccept|einwillig|zustimm|einverstanden|akzeptier|consentement|\baccepte|"
        r"consentimiento|\bacept|\bconsenso|\baccett|consentimento|\baceit|toestemming|akkoord|"
        r"\bzgod|akceptuj|соглас|принима|\bonay|kabul|موافق|同意|동의",
        re.IGNORECASE)),
    ("privacy", re.compile(
        r"privacy|data protection|personal data|datenschutz|personenbezogen|confidentialit|données personnelles|"
        r"privacidad|datos personales|dati personali|privacidade|dados pessoais|persoonsgegevens|prywatno|"
        r"danych osobowych|конфиденциальн|персональн|gizlilik|kişisel veri|الخصوصية|隐私|个人信息|個人情報|"
        r"プライバシー|개인정보|\bgdpr|\bdsgvo|\brgpd|\brodo\b|\bkvkk",
        re.IGNORECASE)),
    ("settings", re.compile(
        r"\bsettings|preferences|\benable|\bdisable|einstellungen|deaktivier|aktivier|paramètres|"
        r"configuración|impostazioni|configurações|instellingen|ustawienia|настройк|ayarlar|設定|设置|설정",
        re.IGNORECASE)),
]
#: the share of a text's characters in notice sentences when cookies are named only once
_ONCE_NOTICE_SHARE = 0.8
#: where a notice's sentences end, in spaced and unspaced scripts (how much of a text the notice is)
_SENTENCES = re.compile(r"(?<=[.!?。！？])\s+|\n+|(?<=[。！？])")
#: characters the distinct-words test reads, and the fewest units it applies to
_SAMPLE_CHARS = 2500
_HEAPS_MIN = 20
#: distinct wall phrases that make a page a wall, and the length above which a page is an
#: article that merely ends with a sign-up box
_WALL_SIGNALS = 3
_WALL_MAX_WORDS = 400


#: the marks of UTF-8 read as Latin-1 or Windows-1252 ("fÃ¼r", "â€™"): a lead byte's
#: character followed by a continuation byte's. A cheap test, so that ftfy runs on the few
#: texts that have it (15 of the 1,301 pages of the three HTML sets, mostly in their chrome;
#: 11 of 2,928 SemEval texts)
_MOJIBAKE = re.compile(
    "[ÃÂâÅÄ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def _repair_mojibake(article: ExtractedArticle) -> ExtractedArticle:
    """Text decoded with the wrong charset somewhere upstream (a page served as ISO-8859-1 that
    is UTF-8, a feed that double-encoded its titles), repaired by ftfy (wordfreq's sibling,
    already installed with it): "Veröffentlichung" again, not "VerÃ¶ffentlichung", so that the
    words match the same words elsewhere in dedup and threads. Only the encoding is fixed
    (``fix_encoding``: no other normalisation), and only the extracted text and title, where it
    costs a few milliseconds on the rare text with the marks (the whole HTML of a page: ~180 ms)."""
    title = article.title or ""
    if not (_MOJIBAKE.search(article.text) or _MOJIBAKE.search(title)):
        return article
    text, fixed_title = ftfy.fix_encoding(article.text), ftfy.fix_encoding(title) if title else article.title
    if text == article.text and fixed_title == article.title:
        return article
    return ExtractedArticle(**{**article.__dict__, "text": text, "title": fixed_title})


#: the fixed fallback sentences of media players, which land in the text where a player stood:
#: HTML5's own ("Your browser does not support the audio element.") and video.js's default
#: ("To view this video please enable JavaScript, and consider upgrading to a web browser that
#: supports HTML5 video"). They are the same on every page of a site that embeds players, so
#: two of its articles on different events shared "browser", "audio" and "element" as features
#: (a SemEval English pair at cosine 0.26, within reach of the thread bar); in 5 of the 2,928
#: SemEval texts
_PLAYER_FALLBACK = re.compile(
    r"\s*(?:to view this video please enable javascript,? and consider upgrading to a web browser that\s+"
    r"supports html5 video\.?|your browser (?:does not|doesn['’]t) support (?:the )?(?:html5 )?"
    r"(?:audio|video)(?: element| tag| playback)?\.?|ihr browser unterstützt (?:das |den |kein(?:e|en)? )?(?:html5[- ])?"
    r"(?:audio|video)(?:-?(?:element|tag|wiedergabe))? nicht\.?)",
    re.IGNORECASE,
)
_PLAYER_GATE = re.compile("browser", re.IGNORECASE)


def _drop_player_fallbacks(text: str) -> str:
    """The text without media players' fallback sentences (``_PLAYER_FALLBACK``); a line that
    was only such a sentence goes, and the other lines are kept as they are."""
    if not _PLAYER_GATE.search(text):  # a C scan: most texts never name a browser
        return text
    out = []
    for line in text.split("\n"):
        if _PLAYER_FALLBACK.search(line):
            line = _PLAYER_FALLBACK.sub("", line).strip()
            if not line:
                continue
        out.append(line)
    return "\n".join(out)


def extract_document(
    raw: bytes,
    *,
    uri: str,
    url: str | None = None,
    content_type: str | None = None,
    max_bytes: int,
    min_words: int,
    max_words: int = 50_000,
    learned_chrome: LearnedChrome | None = None,
    second_opinion: bool = True,
) -> ExtractedArticle:
    """Decode and extract one input. HTML goes to trafilatura, anything else to the scrape cleaner.

    ``learned_chrome`` (optional) is asked which of the page's lines its site's other pages
    have shown to be chrome: the scrape's lines for plain text, the body's paragraphs for HTML.
    ``second_opinion``: ask readability too for HTML (see ``extract_html``).
    """
    charset = None
    if content_type and "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip(" \"'")
    text = decode_body(raw, max_bytes=max_bytes, declared_charset=charset)
    is_html = (content_type or "").startswith(("text/html", "application/xhtml")) or (
        not uri.lower().endswith(".txt") and looks_like_html(text)
    )
    if is_html:
        check_markup(text)  # bounded work per input: a page of a million tags is refused before parsing
        article = extract_html(text, url=url, learned_chrome=learned_chrome, second_opinion=second_opinion)
        if article is None:
            raise NoContent("trafilatura found no article text in this HTML page")
        if (body := _drop_player_fallbacks(article.text)) != article.text:
            article = ExtractedArticle(**{**article.__dict__, "text": body})
    else:
        text = _drop_player_fallbacks(text)  # before the cleaner, which would weigh them as body
        extra = learned_chrome(scrape_lines(text)) if learned_chrome else ()
        article = clean_scrape(text, extra_chrome=extra)
        if url and not article.url:
            article = ExtractedArticle(**{**article.__dict__, "url": url})
    article = _repair_mojibake(article)
    check_prose(article.text, min_words=min_words, max_words=max_words)
    if not article.language:
        # 500 characters (~80 words) name the language as 3,000 do on every page of the three
        # development sets (181 + 130 + 250 sample pages; bench/data), at a sixth of the cost
        # (py3langid is linear in the length: ~0.5 ms per 1,000 characters)
        lang, _ = py3langid.classify(article.text[:500])
        article = ExtractedArticle(**{**article.__dict__, "language": lang})
    return article
