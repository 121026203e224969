"""The SSRF guard refuses internal addresses, directly and behind redirects, before connecting."""

from __future__ import annotations

import ipaddress

import pytest
from pytest_httpserver import HTTPServer

from worker.errors import FetchRefused
from worker.settings import FetchSettings
from worker.sources.guard import AddressPolicy, refusal_reason
from worker.sources.http import build_client, fetch


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254", "::1", "0.0.0.0", "192.168.1.1",
    "172.16.0.1", "100.64.0.1", "224.0.0.1", "240.0.0.1", "::ffff:127.0.0.1", "fe80::1",
])
def test_non_public_addresses_have_a_refusal_reason(address):
    assert refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1"])
def test_public_addresses_pass(address):
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_metadata_is_refused_even_when_private_networks_are_allowed():
    policy = AddressPolicy(allow_private_networks=True)
    policy.check(ipaddress.ip_address("10.0.0.1"), 80, "internal")
    with pytest.raises(FetchRefused, match="metadata"):
        policy.check(ipaddress.ip_address("169.254.169.254"), 80, "metadata")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/page",
    "http://10.0.0.1/page",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://localhost:{port}/page",  # a name: refused on the address it resolves to
])
def test_fetch_refuses_internal_targets_without_connecting(httpserver: HTTPServer, url):
    httpserver.expect_request("/page").respond_with_data("secret", content_type="text/html")
    with build_client(FetchSettings()) as client, pytest.raises(FetchRefused, match="SSRF guard"):
        fetch(client, url.format(port=httpserver.port), FetchSettings())
    assert httpserver.log == []  # the server was never reached


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:{inner}/secret",
    "http://10.0.0.1/secret",
    "http://169.254.169.254/latest/meta-data/",
])
def test_a_redirect_to_an_internal_address_is_refused_before_connecting(httpserver: HTTPServer, target):
    # the public-facing server is this test's local one, allowed by address and port only;
    # a second local server stands for the internal service the redirect points at
    inner = HTTPServer(host="127.0.0.1", port=0)
    inner.start()
    try:
        inner.expect_request("/secret").respond_with_data("internal", content_type="text/html")
        location = target.format(inner=inner.port)
        httpserver.expect_request("/go").respond_with_data("", status=302, headers={"Location": location})
        settings = FetchSettings(allowed_private_addresses=[f"127.0.0.1:{httpserver.port}"])
        with build_client(settings) as client, pytest.raises(FetchRefused, match="SSRF guard"):
            fetch(client, httpserver.url_for("/go"), settings)
        assert len(httpserver.log) == 1  # the redirect itself was fetched ...
        assert inner.log == []  # ... its target never was
    finally:
        inner.clear()
        inner.stop()


def test_the_client_refuses_internal_addresses_even_outside_fetch(httpserver: HTTPServer):
    """The transport checks the address it dials, so a caller skipping fetch's pre-check (or
    a DNS answer changing between check and connect) still cannot reach an internal address."""
    httpserver.expect_request("/page").respond_with_data("secret")
    with build_client(FetchSettings()) as client, pytest.raises(FetchRefused):
        client.get(httpserver.url_for("/page"))
    assert httpserver.log == []


def test_allow_list_of_hosts_refuses_others_before_any_lookup():
    settings = FetchSettings(allowed_hosts=["127.0.0.1"])
    with build_client(settings) as client, pytest.raises(FetchRefused, match="ALLOWED_HOSTS"):
        fetch(client, "http://example.org/", settings)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://127.0.0.1:6379/_INFO"])
def test_only_http_and_https_are_fetched(url):
    with build_client(FetchSettings()) as client, pytest.raises(FetchRefused, match="only http and https"):
        fetch(client, url, FetchSettings())
