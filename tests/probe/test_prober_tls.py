"""The prober's TLS context: made once per process, and still a verifying one."""

from __future__ import annotations

import ssl

import pytest
from helpers import closed_port

from harness.host import tls
from harness.probe import prober
from harness.probe.prober import Prober


def test_probers_and_their_health_checks_share_one_tls_context_made_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpx would load the CA bundle for each transport (two per proxied client, one per
    # `httpx.get`): ~26 ms each.
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = real(*args, **kwargs)  # type: ignore[arg-type]
        made.append(context)
        return context

    monkeypatch.setattr(ssl, "create_default_context", counting)
    tls.forget_contexts()
    try:
        with Prober("127.0.0.1", closed_port()) as first, Prober("127.0.0.1", 2) as second:
            assert not first.healthy(timeout=0.5)  # nobody listens: refused at once
            assert not first.healthy(timeout=0.5)
            assert second.agent_url != first.agent_url
        assert len(made) == 1
        assert prober.tls_context() is made[0]
    finally:
        tls.forget_contexts()


def test_the_shared_context_still_verifies_certificates_and_hostnames() -> None:
    context = prober.tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    # A CA bundle is loaded: an empty trust store would refuse every server.
    assert context.cert_store_stats()["x509_ca"] > 0
