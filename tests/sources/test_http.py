"""Fetching against a real local HTTP server: limits, redirects, errors, conditional GET."""

from __future__ import annotations

import gzip
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from worker.errors import FetchRefused, FetchTimeout, TooLarge, TransientError
from worker.extract import extract_document
from worker.settings import FetchSettings
from worker.sources.http import build_client, fetch
from worker.sources.pages import page_document


@pytest.fixture
def client(fetch_settings):
    with build_client(fetch_settings) as c:
        yield c


def test_a_page_is_fetched_with_its_content_type(httpserver: HTTPServer, client, fetch_settings):
    httpserver.expect_request("/a").respond_with_data("<p>hello</p>", content_type="text/html; charset=utf-8",
                                                      headers={"ETag": '"v1"'})
    result = fetch(client, httpserver.url_for("/a"), fetch_settings)
    assert (result.status, result.body, result.content_type, result.etag) == (200, b"<p>hello</p>", "text/html; charset=utf-8", '"v1"')


def test_a_body_over_the_limit_is_refused_declared_or_streamed(httpserver: HTTPServer, client, fetch_settings):
    limited = fetch_settings.model_copy(update={"max_body_bytes": 100_000})
    httpserver.expect_request("/big").respond_with_data(b"x" * 200_000, content_type="text/html")
    with pytest.raises(TooLarge, match="Content-Length"):
        fetch(client, httpserver.url_for("/big"), limited)
    # chunked, no Content-Length: the stream is cut once the limit is passed
    httpserver.expect_request("/stream").respond_with_response(
        Response((b"y" * 10_000 for _ in range(1000)), content_type="text/html"))
    with pytest.raises(TooLarge, match="after decompression"):
        fetch(client, httpserver.url_for("/stream"), limited)


def test_a_gzip_bomb_is_stopped_at_the_limit(httpserver: HTTPServer, client, fetch_settings):
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB in about 64 KB
    assert len(bomb) < 100_000
    httpserver.expect_request("/bomb").respond_with_data(bomb, content_type="text/html",
                                                         headers={"Content-Encoding": "gzip"})
    with pytest.raises(TooLarge, match="decompression bomb"):
        fetch(client, httpserver.url_for("/bomb"), fetch_settings.model_copy(update={"max_body_bytes": 1024 * 1024}))


def test_gzip_pages_are_decompressed(httpserver: HTTPServer, client, fetch_settings):
    httpserver.expect_request("/gz").respond_with_data(gzip.compress(b"<p>compressed</p>"), content_type="text/html",
                                                       headers={"Content-Encoding": "gzip"})
    assert fetch(client, httpserver.url_for("/gz"), fetch_settings).body == b"<p>compressed</p>"


def test_content_types_outside_the_allowed_list_are_refused(httpserver: HTTPServer, client, fetch_settings):
    httpserver.expect_request("/doc.pdf").respond_with_data(b"%PDF-1.4", content_type="application/pdf")
    with pytest.raises(FetchRefused, match="application/pdf"):
        fetch(client, httpserver.url_for("/doc.pdf"), fetch_settings)
    httpserver.expect_request("/feed").respond_with_data(b"<rss/>", content_type="application/rss+xml")
    with pytest.raises(FetchRefused, match="rss"):
        fetch(client, httpserver.url_for("/feed"), fetch_settings, kind="page")
    assert fetch(client, httpserver.url_for("/feed"), fetch_settings, kind="feed").body == b"<rss/>"


def test_redirects_are_followed_up_to_the_limit(httpserver: HTTPServer, client, fetch_settings):
    for i in range(8):
        httpserver.expect_request(f"/r{i}").respond_with_data("", status=302, headers={"Location": f"/r{i + 1}"})
    httpserver.expect_request("/r8").respond_with_data("<p>end</p>", content_type="text/html")
    with pytest.raises(FetchRefused, match="more than 5 redirects"):
        fetch(client, httpserver.url_for("/r0"), fetch_settings)
    result = fetch(client, httpserver.url_for("/r4"), fetch_settings)
    assert result.body == b"<p>end</p>" and result.url.endswith("/r8") and len(result.redirects) == 4


@pytest.mark.parametrize("status, error", [(503, TransientError), (500, TransientError), (429, TransientError),
                                           (404, FetchRefused), (410, FetchRefused), (403, FetchRefused)])
def test_http_errors_map_to_transient_or_permanent(httpserver: HTTPServer, client, fetch_settings, status, error):
    httpserver.expect_request("/e").respond_with_data("no", status=status)
    with pytest.raises(error, match=f"HTTP {status}"):
        fetch(client, httpserver.url_for("/e"), fetch_settings)


def test_a_slow_server_times_out_as_a_transient_error(httpserver: HTTPServer, client, fetch_settings):
    def slow(_: Request) -> Response:
        time.sleep(1.0)
        return Response("late", content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(FetchTimeout):
        fetch(client, httpserver.url_for("/slow"), fetch_settings.model_copy(update={"read_timeout": 0.2}))
    assert issubclass(FetchTimeout, TransientError)


def test_a_conditional_get_returns_not_modified(httpserver: HTTPServer, client, fetch_settings):
    def page(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response("<p>page</p>", content_type="text/html", headers={"ETag": '"v1"'})

    httpserver.expect_request("/p").respond_with_handler(page)
    first = fetch(client, httpserver.url_for("/p"), fetch_settings)
    second = fetch(client, httpserver.url_for("/p"), fetch_settings, etag=first.etag)
    assert (first.status, second.status, second.not_modified, second.body) == (200, 304, True, b"")


def test_the_declared_charset_reaches_the_extract_stage(httpserver: HTTPServer, client, fetch_settings):
    text = ("Киев и Москва продолжают переговоры о мирном урегулировании. Делегации встретились в Стамбуле "
            "во вторник, чтобы обсудить обмен пленными и гуманитарные коридоры. Американские посредники "
            "предложили новый план, который предусматривает прекращение огня на тридцать дней. Европейские "
            "министры заявили, что поддержат любое соглашение, если оно будет честным и прочным. Эксперты "
            "считают, что главные разногласия касаются границ, гарантий безопасности и судьбы Крыма. "
            "Следующий раунд консультаций может пройти в Париже или Лондоне уже в конце месяца.")
    httpserver.expect_request("/ru").respond_with_data(text.encode("cp1251"), content_type="text/plain; charset=windows-1251")
    result = fetch(client, httpserver.url_for("/ru"), fetch_settings)
    doc = page_document(result, doc_id="d", source_kind="url", uri=result.url, run_id=None)
    article = extract_document(doc.body, uri=doc.uri, url=doc.url, content_type=doc.content_type,
                               max_bytes=10_000_000, min_words=20)
    assert "переговоры" in article.text
