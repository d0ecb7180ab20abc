"""The Kubernetes CEL library functions the pinned CRD bundles use that cel-expr-python lacks.

cel-expr-python (cel-cpp) brings the standard library, the strings extension (`split`,
`substring`, `lowerAscii`, ...) and RE2 `matches`; the Kubernetes additions are the API
server's own. Only the ones the bundles call are implemented, following the Kubernetes CEL
reference (kubernetes.io/docs/reference/using-api/cel/):

- `isURL(string) bool`, `url(string) URL`, `URL.getScheme() string`: a URL is what Go's
  `url.ParseRequestURI` accepts (an absolute URI or an absolute path, no fragment split);
  `url()` of anything else is an evaluation error. The URL value is a map with its parts
  (cel-expr-python has no opaque host types); only `getScheme()` reads it.
- `isIP(string) bool`: an IPv4 or IPv6 address as Go's `netip.ParseAddr` reads it, without a
  zone and not IPv4-mapped.
"""

from __future__ import annotations

import ipaddress
import string
from typing import Any

_SCHEME_FIRST = frozenset(string.ascii_letters)
_SCHEME_REST = frozenset(string.ascii_letters + string.digits + "+-.")
_HEX = frozenset(string.hexdigits)
# Characters Go's url package accepts unescaped in a host (unreserved + sub-delims + ':[]<>"').
_HOST_OK = frozenset(string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:[]<>\"")


class _URLError(ValueError):
    """`url()` of a string Go's ParseRequestURI refuses; worded as the API server words it."""


def _scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c in _SCHEME_FIRST:
            continue
        if c in _SCHEME_REST:
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise _URLError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw  # a character no scheme has: there is no scheme
    return "", raw


def _check_escapes(text: str, host: bool) -> None:
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            code = text[i + 1 : i + 3]
            if len(code) < 2 or not set(code) <= _HEX:
                raise _URLError(f'invalid URL escape "{text[i : i + 3]}"')
            if host and int(code[0], 16) < 8 and code != "25":
                raise _URLError(f'invalid URL escape "{text[i : i + 3]}"')
            i += 3
            continue
        if host and ord(c) < 0x80 and c not in _HOST_OK:
            raise _URLError(f'invalid character "{c}" in host name')
        i += 1


def _valid_port(colon_port: str) -> bool:
    return colon_port == "" or (
        colon_port.startswith(":") and all(c in string.digits for c in colon_port[1:])
    )


def _host(authority: str) -> str:
    host = authority[authority.rfind("@") + 1 :]
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise _URLError("missing ']' in host")
        port = host[end + 1 :]
        if not _valid_port(port):
            raise _URLError(f'invalid port "{port}" after host')
    elif (colon := host.rfind(":")) >= 0 and not _valid_port(host[colon:]):
        raise _URLError(f'invalid port "{host[colon:]}" after host')
    _check_escapes(host, host=True)
    return host


def parse_request_uri(raw: str) -> dict[str, str]:
    """The parts of `raw` as Go's `url.ParseRequestURI` splits them, or a ValueError."""
    try:
        return _parse(raw)
    except _URLError as exc:
        raise _URLError(
            f'URL parse error during conversion from string: parse "{raw}": {exc}'
        ) from None


def _parse(raw: str) -> dict[str, str]:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _URLError("net/url: invalid control character in URL")
    if raw == "":
        raise _URLError("empty url")
    if raw == "*":
        return {"scheme": "", "host": "", "path": "*"}
    scheme, rest = _scheme(raw)
    scheme = scheme.lower()
    # The query is cut off (a lone trailing "?" too): only the path is checked further.
    rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        if scheme:
            return {"scheme": scheme, "host": "", "path": ""}  # opaque: mailto:x
        raise _URLError("invalid URI for request")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        host, rest = _host(authority), slash + path
    _check_escapes(rest, host=False)
    return {"scheme": scheme, "host": host, "path": rest}


def is_url(raw: str) -> bool:
    try:
        _parse(raw)
    except _URLError:
        return False
    return True


def get_scheme(parts: dict[str, Any]) -> str:
    return str(parts.get("scheme", ""))


def is_ip(raw: str) -> bool:
    if "%" in raw:
        return False  # a zone (fe80::1%eth0) is not allowed
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return False
    return not (isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None)
