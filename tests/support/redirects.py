"""One corpus of hostile ``redirect_to`` values, for every test that feeds one to the package.

Each value must send the browser to this site's root: the unit tests give them to
``safe_redirect``, the integration tests to a sign-in, the security suite to sign-in, decline
and sign-out. ``hostile_redirects`` spells them for the site under test and the origin it
trusts, so the look-alikes of *that* host are the ones tried.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["EVIL", "LONG", "hostile_redirects"]

EVIL = "evil.example"
"""The attacker's host (RFC 2606 reserves ``.example``)."""

LONG = "a" * 5000


def _punycode(host: str) -> str:
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in host.split(".")
    )


def hostile_redirects(
    site: str = "http://testserver", trusted: str = "https://trusted.example", evil: str = EVIL
) -> dict[str, str]:
    """Every hostile value by name, aimed at ``site`` (the app's origin) and ``trusted``.

    Args:
        site: The origin the app is served at; its host is the one look-alikes imitate.
        trusted: An origin the app may trust; values that merely mention it must still fail.
        evil: The attacker's host.
    """
    own = urlsplit(site)
    host = own.netloc
    other_scheme = "https" if own.scheme == "http" else "http"
    trust = urlsplit(trusted)
    name = trust.netloc
    homograph = name.replace("a", "\u0430", 1)  # Cyrillic a
    dze = name.replace("s", "\u0455", 1)  # Cyrillic dze
    own_look_alike = host.replace("e", "\u0435", 1)  # Cyrillic e
    trust_other_scheme = "https" if trust.scheme == "http" else "http"
    return {
        # Another host, spelled so that a naive "starts with /" check passes.
        "protocol-relative": f"//{evil}",
        "protocol-relative-with-path": f"//{evil}/login?next=/",
        "triple-slash": f"///{evil}",
        "backslashes": f"\\\\{evil}",
        "slash-backslash": f"/\\{evil}",
        "backslash-slash": f"\\/{evil}",
        "slash-backslash-slash": f"/\\/{evil}",
        "backslash-inside-path": "/path\\..\\..\\evil",
        # Encoded slashes and backslashes, once, twice and three times.
        "encoded-slashes": f"/%2F%2F{evil}",
        "encoded-slashes-lower-case": f"/%2f/{evil}",
        "encoded-slashes-lower-case-twice": f"/%2f%2f{evil}",
        "encoded-slashes-without-a-leading-slash": f"%2F%2F{evil}",
        "encoded-backslash": f"/%5C{evil}",
        "double-encoded-slashes": f"/%252F%252F{evil}",
        "double-encoded-backslash": f"/%255C%255C{evil}",
        "triple-encoded-slashes": f"/%25252F%25252F{evil}",
        "overlong-utf8-slashes": f"/%C0%AF%C0%AF{evil}",
        # White space and control characters, raw and encoded; browsers drop tabs and newlines.
        "tab": f"/\t/{evil}",
        "newline": f"/\n/{evil}",
        "carriage-return-newline": f"/\r\n/{evil}",
        "space": f"/ /{evil}",
        "leading-space": f" //{evil}",
        "leading-tab": f"\t//{evil}",
        "trailing-space": f"//{evil} ",
        "nul": f"/\x00/{evil}",
        "encoded-tab": f"/%09/{evil}",
        "encoded-newline": f"/%0a/{evil}",
        "encoded-crlf-header-injection": "/%0d%0aSet-Cookie:%20kavach_session=planted",
        "encoded-nul": f"/%00/{evil}",
        # Script and data URLs.
        "javascript": "javascript:alert(document.cookie)",
        "javascript-mixed-case": "JaVaScRiPt:alert(1)",
        "javascript-with-authority": f"javascript://{host}/%0aalert(1)",
        "javascript-with-trusted-host": f"javascript://{name}/%0aalert(1)",
        "javascript-leading-space": " javascript:alert(1)",
        "data-html": "data:text/html,<script>alert(1)</script>",
        "data-base64": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript": "vbscript:msgbox(1)",
        "file": "file:///etc/passwd",
        # Absolute URLs elsewhere, or here (or at the trusted origin) by another scheme or port.
        "other-origin": f"https://{evil}/",
        "own-host-as-subdomain": f"{own.scheme}://{host}.{evil}/",
        "own-host-in-query": f"http://{evil}/?{site}/",
        "own-host-in-fragment": f"http://{evil}/#{site}/",
        "own-host-other-scheme": f"{other_scheme}://{host}/",
        "own-host-other-port": f"{own.scheme}://{own.hostname}:8080/",
        "trusted-other-scheme": f"{trust_other_scheme}://{name}/",
        "trusted-other-port": f"{trust.scheme}://{trust.hostname}:8443/",
        "trusted-name-as-subdomain": f"{trust.scheme}://{name}.{evil}/",
        "trusted-name-as-suffix": f"{trust.scheme}://evil-{name}/",
        "trusted-in-fragment": f"https://{evil}/#{trusted}",
        "trusted-in-query": f"https://{evil}/?next={trusted}",
        "trusted-non-numeric-port": f"{trust.scheme}://{trust.hostname}:abc/",
        "trusted-port-out-of-range": f"{trust.scheme}://{trust.hostname}:99999/",
        "ftp-on-trusted-host": f"ftp://{name}/",
        "scheme-without-slashes": f"http:{evil}",
        "scheme-with-one-slash": f"http:/{evil}",
        "scheme-with-backslashes": f"http:\\\\{evil}",
        "trusted-scheme-without-slashes": f"{trust.scheme}:{name}",
        "trusted-scheme-with-one-slash": f"{trust.scheme}:/{name}",
        # User-info tricks: the host is what follows the last @.
        "userinfo-own-host-as-user": f"{own.scheme}://{host}@{evil}/",
        "userinfo-own-host-with-port-as-user": f"{own.scheme}://{own.hostname}:80@{evil}/",
        "userinfo-encoded-at": f"{own.scheme}://{host}%40{evil}/",
        "userinfo-protocol-relative": f"//{host}@{evil}",
        "userinfo-backslash": f"http://{evil}\\@{host}/",
        "userinfo-on-own-host": f"{own.scheme}://user:password@{host}/",
        "userinfo-trusted-name": f"{trusted}@{evil}",
        "userinfo-on-trusted-host": f"{trust.scheme}://user:pass@{name}/",
        "userinfo-backslash-trusted": f"https://{evil}\\@{name}",
        "userinfo-encoded-slash-trusted": f"{trusted}%2F@{evil}",
        # Look-alike Unicode.
        "fullwidth-solidus": f"\uff0f\uff0f{evil}",
        "slash-and-fullwidth-solidus": f"/\uff0f{evil}",
        "division-slash": f"/\u2215\u2215{evil}",
        "one-division-slash": f"/\u2215{evil}",
        "encoded-division-slash": f"/%E2%88%95%E2%88%95{evil}",
        "big-solidus": f"/\u29f8{evil}",
        "zero-width-space": f"/\u200b/{evil}",
        "cyrillic-e-in-own-host": f"{own.scheme}://{own_look_alike}/",
        "ideographic-full-stop": f"{own.scheme}://{host}\u3002{evil}/",
        "right-to-left-override": f"/\u202e//{evil}",
        "idn-homograph-of-trusted": f"{trust.scheme}://{homograph}/",
        "idn-homograph-of-trusted-punycode": f"{trust.scheme}://{_punycode(homograph)}/",
        "idn-homograph-of-trusted-dze": f"{trust.scheme}://{dze}/",
        # Very long.
        "very-long-path": f"/{LONG}",
        "very-long-protocol-relative": f"//{evil}/{LONG}",
        # Not a path at all.
        "empty": "",
        "bare-host": evil,
        "relative-path": "dashboard",
        "dot-relative": f".//{evil}",
        "at-host": f"@{evil}",
        "query-only": "?x=1",
        "fragment-only": "#x",
    }
