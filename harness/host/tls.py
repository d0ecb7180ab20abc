"""The verifying TLS contexts of this process: one per set of trust settings, made on first use.

httpx builds a context per transport (two per client with a proxy), and loading the CA bundle
costs ~26 ms of C each time; a download client or a Prober made per call paid it every time.
The context is httpx's own default (`create_ssl_context`: its CA bundle, hostname checked), made
once for each value of what that default depends on: whether the environment is trusted, and
then `SSL_CERT_FILE` / `SSL_CERT_DIR` as they are when a client is made. An SSLContext may be
shared by connections and threads (httpcore sets the same ALPN, http/1.1, on every connection).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # httpx (and ssl) only where a download or a probe starts
    import ssl

# The variables httpx.create_ssl_context reads when trust_env is true.
CA_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def tls_context(*, trust_env: bool = False) -> ssl.SSLContext:
    """The verifying context httpx would build for a client with this `trust_env` now."""
    env = tuple(os.environ.get(name) or None for name in CA_ENV) if trust_env else (None, None)
    return _context(trust_env, env)


@functools.cache
def _context(trust_env: bool, env: tuple[str | None, ...]) -> ssl.SSLContext:
    # `env` is the cache key only: httpx reads the same variables, unchanged since tls_context.
    import httpx

    return httpx.create_ssl_context(trust_env=trust_env)


def forget_contexts() -> None:
    """Drop the contexts made so far (the next client makes its own again): for tests."""
    _context.cache_clear()
