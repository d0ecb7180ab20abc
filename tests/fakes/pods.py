"""Pod objects as the API server returns them, for tests that make pods come and go."""

from __future__ import annotations

from typing import Any


def running_pod(
    name: str, app: str, namespace: str, *, ready: bool = True, container: str = "agent"
) -> dict[str, Any]:
    """A Running pod labelled app=<app>, Ready or not."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {"containers": [{"name": container}]},
        "status": {"phase": "Running", "conditions": [ready_condition(ready)]},
    }


def ready_condition(ready: bool) -> dict[str, str]:
    return {"type": "Ready", "status": "True" if ready else "False"}


def set_ready(obj: dict[str, Any], ready: bool) -> None:
    obj["status"]["conditions"] = [ready_condition(ready)]
