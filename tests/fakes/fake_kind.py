"""Stand-ins for the kind, kubectl and docker CLIs (small executables that record their
arguments and keep kind's cluster list in a file), and a loopback API server that answers
/version like a real one: all `ExistingProvider` and `KindProvider.status` ask of a cluster.
"""

from __future__ import annotations

import ast
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from fakes.standin import SHEBANG
from harness.host.versions import NODE_IMAGE


def script(directory: Path, name: str, body: str) -> Path:
    """An executable Python script standing in for a CLI (`os`, `sys`, `time` imported, and
    `json` when the body uses it: json's import, `re` with it, doubles a stand-in's start-up,
    and the suite runs a few hundred)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    imports = "json, os, sys, time" if "json." in body else "os, sys, time"
    path.write_text(f"{SHEBANG}\nimport {imports}\n{body}\n")
    path.chmod(0o755)
    return path


class ApiServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner.requests.append(f"GET {self.path}")
                body = json.dumps(
                    {  # the fields a real API server returns for /version
                        "major": "1",
                        "minor": "35",
                        "gitVersion": "v1.35.8",
                        "gitCommit": "0" * 40,
                        "gitTreeState": "clean",
                        "buildDate": "2026-01-01T00:00:00Z",
                        "goVersion": "go1.25.0",
                        "compiler": "gc",
                        "platform": "linux/amd64",
                    }
                ).encode()
                self.send_response(200 if self.path.rstrip("/") == "/version" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self) -> None:
                owner.requests.append(f"DELETE {self.path}")
                self.send_error(405)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def kubeconfig_text(server: str, context: str = "kind-demo") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": server}}],
            "users": [{"name": context, "user": {"token": "test"}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
    )


# The calls are logged as Python literals (`calls` reads them back): no json import.
FAKE_KIND = r"""
log, state = os.environ["FAKE_LOG"], os.environ["FAKE_STATE"]
with open(log, "a") as f:
    f.write(repr([sys.argv[0]] + sys.argv[1:]) + "\n")
clusters = open(state).read().split() if os.path.exists(state) else []
args = sys.argv[1:]
opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
if args[:2] == ["get", "clusters"]:
    print("\n".join(clusters))
elif args[:2] == ["get", "nodes"]:
    if opts["name"] in clusters:
        print("\n".join(opts["name"] + s for s in ("-control-plane", "-worker", "-worker2")))
elif args[:2] == ["create", "cluster"] and os.environ.get("FAKE_CREATE_FAILS"):
    clusters.append(opts["name"])  # nodes half made, then the failure
    open(state, "w").write("\n".join(clusters))
    sys.exit(1)
elif args[:2] in (["create", "cluster"], ["export", "kubeconfig"]):
    with open(opts["kubeconfig"], "w") as f:
        f.write(os.environ["FAKE_KUBECONFIG"])
    if args[0] == "create":
        clusters.append(opts["name"])
elif args[:2] == ["delete", "cluster"]:
    clusters = [c for c in clusters if c != opts["name"]]
elif args[:1] == ["version"]:
    print("kind v0.33.0 go1.24.6 linux/amd64")
else:
    sys.exit(2)
open(state, "w").write("\n".join(clusters))
"""

# `docker info` answers; `docker inspect --format F NAME...` says each node container runs
# $FAKE_NODE_IMAGE (or the pinned one), with the leading slash docker puts before container
# names. A shell script: a tenth of an interpreter's start-up, and kind's paths ask often.
FAKE_DOCKER = r"""#!/bin/sh
if [ "$1" = inspect ]; then
    image="${FAKE_NODE_IMAGE-$FAKE_PINNED_NODE_IMAGE}"
    shift 3
    for name in "$@"; do
        echo "/$name $image"
    done
else
    echo "Server Version: 28.2.2"
fi
"""

FAKE_KUBECTL = r"""
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(repr([sys.argv[0]] + sys.argv[1:]) + "\n")
"""


def install_fake_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_url: str) -> Path:
    """kind, kubectl and docker stand-ins in tmp_path/bin, selected the way a user would
    (AMBIENT_HARNESS_KIND/KUBECTL); the working directory moves to tmp_path/work."""
    bin_dir = tmp_path / "bin"
    script(bin_dir, "kind", FAKE_KIND)
    script(bin_dir, "kubectl", FAKE_KUBECTL)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_PINNED_NODE_IMAGE", NODE_IMAGE.ref)
    monkeypatch.setenv("FAKE_STATE", str(tmp_path / "clusters"))
    monkeypatch.setenv("FAKE_KUBECONFIG", kubeconfig_text(api_url))
    # The real resolution path: the explicit override variables.
    monkeypatch.setenv("AMBIENT_HARNESS_KIND", str(bin_dir / "kind"))
    monkeypatch.setenv("AMBIENT_HARNESS_KUBECTL", str(bin_dir / "kubectl"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return bin_dir


def calls(tmp_path: Path) -> list[list[str]]:
    """Every argv the kind and kubectl stand-ins were run with, in order."""
    log = tmp_path / "calls.log"
    if not log.exists():
        return []
    return [ast.literal_eval(line) for line in log.read_text().splitlines()]
