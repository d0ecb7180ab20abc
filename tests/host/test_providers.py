"""harness.host.providers: which provider the options ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.host.existing import ExistingProvider
from harness.host.kind import KindProvider
from harness.host.providers import ClusterOptionError, provider_from_options


def test_provider_from_options() -> None:
    assert provider_from_options(None, None, None, False, "x") is None
    kind = provider_from_options("kind", None, None, True, "talk")
    assert isinstance(kind, KindProvider) and kind.name == "talk" and kind.keep
    assert kind.context == "kind-talk"
    existing = provider_from_options(None, "prod", "~/k", False, "x")
    assert isinstance(existing, ExistingProvider)
    assert existing.context == "prod" and existing.kubeconfig == Path.home() / "k"
    default = provider_from_options("existing", None, None, False, "x")
    assert isinstance(default, ExistingProvider) and default.kubeconfig is None
    assert issubclass(ClusterOptionError, HarnessError)
    with pytest.raises(ClusterOptionError, match="expected one of kind, existing"):
        provider_from_options("minikube", None, None, False, "x")
    with pytest.raises(ClusterOptionError, match="--cluster=kind manages its own"):
        provider_from_options("kind", "prod", None, False, "x")
    custom = provider_from_options(
        "kind", None, None, False, "x", kind_image="kindest/node:v1.36.4", kind_path=Path("/k")
    )
    assert isinstance(custom, KindProvider) and custom.image == "kindest/node:v1.36.4"
    assert custom.commands()[1] == ["/k", "get", "clusters"]
    assert provider_from_options("kind", None, None, False).name == "ambient-harness"  # type: ignore[union-attr]
