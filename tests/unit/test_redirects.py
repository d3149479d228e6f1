"""``redirect_to`` is attacker-controlled: only local paths and allowed origins survive."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kavach_fastapi.redirects import MAX_REDIRECT_LENGTH, origin_of, safe_redirect, with_error
from tests.support.redirects import hostile_redirects

OWN_ORIGIN = "https://app.example"
TRUSTED = ("https://trusted.example", "http://localhost:3000")
ALLOWED = {"https://app.example", "https://trusted.example", "http://localhost:3000"}


def check(value: str | None) -> str:
    return safe_redirect(value, own_origin=OWN_ORIGIN, trusted=TRUSTED)


HOSTILE = [
    *(
        pytest.param(value, id=name)
        for name, value in hostile_redirects(OWN_ORIGIN, trusted=TRUSTED[0]).items()
    ),
    pytest.param("http://localhost:3001/", id="trusted-http-other-port"),
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_redirect_falls_back_to_root(value: str) -> None:
    assert check(value) == "/"


def test_missing_redirect_falls_back_to_root() -> None:
    assert check(None) == "/"


SAFE = {
    "root": "/",
    "path": "/dashboard",
    "path-query-fragment": "/dashboard?tab=2#x",
    "encoded-slash-inside-path": "/a%2Fb",
    "encoded-query": "/search?q=a+b&next=%2Fhome",
    "nested-path": "/a/b/c/",
    "trusted-origin": "https://trusted.example/",
    "trusted-origin-with-path": "https://trusted.example/page?x=1#y",
    "trusted-origin-explicit-default-port": "https://trusted.example:443/page",
    "trusted-origin-with-port": "http://localhost:3000/after",
    "own-origin-absolute": "https://app.example/settings",
    "own-origin-upper-case-host": "https://APP.example/settings",
}


@pytest.mark.parametrize("value", SAFE.values(), ids=SAFE.keys())
def test_safe_redirect_passes_unchanged(value: str) -> None:
    assert check(value) == value


def test_absolute_url_falls_back_when_nothing_is_trusted() -> None:
    assert safe_redirect("https://app.example/x", own_origin=None, trusted=()) == "/"


def test_trusted_origins_are_normalised_before_comparison() -> None:
    result = safe_redirect(
        "https://trusted.example/x", own_origin=None, trusted=["HTTPS://Trusted.Example:443/"]
    )
    assert result == "https://trusted.example/x"


def test_redirect_at_the_length_limit_is_kept_and_one_longer_is_refused() -> None:
    at_limit = "/" + "a" * (MAX_REDIRECT_LENGTH - 1)
    assert check(at_limit) == at_limit
    assert check(at_limit + "a") == "/"


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://a.example", "https://a.example"),
        ("https://A.Example/path?q=1", "https://a.example"),
        ("https://a.example:443/", "https://a.example"),
        ("http://a.example:80/", "http://a.example"),
        ("https://a.example:8443/x", "https://a.example:8443"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
    ],
)
def test_origin_of_normalises_scheme_host_and_default_port(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url", ["/path", "ftp://a.example", "javascript:alert(1)", "https://", "https://a:99999", ""]
)
def test_origin_of_is_none_for_anything_but_absolute_http_urls(url: str) -> None:
    assert origin_of(url) is None


def test_with_error_adds_the_code_to_a_bare_path() -> None:
    assert with_error("/", "access_denied") == "/?error=access_denied"


def test_with_error_keeps_other_query_parameters_and_the_fragment() -> None:
    result = with_error("/dash?tab=2&empty=#section", "invalid_state")
    parts = urlsplit(result)
    assert parts.path == "/dash"
    assert parts.fragment == "section"
    assert parse_qs(parts.query, keep_blank_values=True) == {
        "tab": ["2"],
        "empty": [""],
        "error": ["invalid_state"],
    }


def test_with_error_replaces_an_existing_error() -> None:
    result = with_error("https://trusted.example/p?error=old&x=1&error=older", "access_denied")
    parts = urlsplit(result)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "trusted.example", "/p")
    assert parse_qs(parts.query) == {"x": ["1"], "error": ["access_denied"]}


# Pieces that tend to matter to URL parsers, so generated inputs hit the interesting cases.
URL_PIECES = st.sampled_from(
    [
        "/",
        "//",
        "\\",
        "%2F",
        "%252F",
        "%5C",
        "%09",
        "%00",
        "@",
        ":",
        "?",
        "#",
        ".",
        "..",
        "https://",
        "http://",
        "https:",
        "javascript:",
        "trusted.example",
        "app.example",
        "localhost:3000",
        "evil.com",
        ":443",
        ":8443",
        "\t",
        " ",
        "\uff0f",
        "\u2215",
        "\u0430",
    ]
)
URL_LIKE = st.lists(URL_PIECES | st.text(max_size=3), max_size=12).map("".join)


def assert_is_safe(value: str, result: str) -> None:
    assert result in ("/", value)
    if result.startswith("/"):
        assert not result.startswith("//")
        assert "\\" not in result
        assert result.isascii()
        assert result.isprintable()
        assert not any(c.isspace() for c in result)
    else:
        assert origin_of(result) in ALLOWED
        assert "@" not in urlsplit(result).netloc


@given(st.text())
def test_any_text_gives_a_local_path_or_an_allowed_origin(value: str) -> None:
    assert_is_safe(value, check(value))


@given(URL_LIKE)
def test_any_url_like_text_gives_a_local_path_or_an_allowed_origin(value: str) -> None:
    assert_is_safe(value, check(value))


@given(st.from_regex(r"/[a-zA-Z0-9_.~-]+(/[a-zA-Z0-9_.~-]+)*(\?[a-z0-9=&]*)?", fullmatch=True))
def test_plain_local_paths_pass_unchanged(value: str) -> None:
    assert check(value) == value


@given(st.text(), st.from_regex(r"[a-z_]{1,20}", fullmatch=True))
def test_with_error_always_carries_exactly_one_error(query_value: str, code: str) -> None:
    target = "/land?" + urlencode({"error": query_value, "keep": query_value})
    params = parse_qs(urlsplit(with_error(target, code)).query, keep_blank_values=True)
    assert params["error"] == [code]
    assert params["keep"] == [query_value]
