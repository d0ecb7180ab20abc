"""Stand-ins for the kind, kubectl and docker CLIs (small executables that record their
arguments and keep kind's cluster list in a file), and a loopback API server that answers
/version like a real one: all `ExistingProvider` and `KindProvider.status` ask of a cluster.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from fakes.prompt_server import PromptServer
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

        self.httpd = PromptServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

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


# Shell scripts, not Python: a tenth of an interpreter's start-up, and the cluster paths run
# them often. Each call is logged as its argv, every word ended by \037 and the call by \036
# (`calls` reads them back).
_LOG_CALL = r"""{ printf '%s\037' "$0" "$@"; printf '\036\n'; } >> "$FAKE_LOG"
"""

# kind's cluster list is a file ($FAKE_STATE, one name a line); `--name=`/`--kubeconfig=` are
# the forms the harness and pytest-kind pass.
FAKE_KIND = (
    "#!/bin/sh\n"
    + _LOG_CALL
    + r"""state="$FAKE_STATE"
clusters=""
if [ -f "$state" ]; then clusters=$(cat "$state"); fi
name=""
kubeconfig=""
for arg in "$@"; do
    case "$arg" in
        --name=*) name="${arg#--name=}" ;;
        --kubeconfig=*) kubeconfig="${arg#--kubeconfig=}" ;;
    esac
done
known() {
    for c in $clusters; do
        if [ "$c" = "$1" ]; then return 0; fi
    done
    return 1
}
add() { clusters="$clusters
$name"; }
save() { printf '%s\n' $clusters > "$state"; }
case "$1 $2" in
    "get clusters")
        for c in $clusters; do echo "$c"; done
        ;;
    "get nodes")
        if known "$name"; then
            printf '%s\n' "$name-control-plane" "$name-worker" "$name-worker2"
        fi
        ;;
    "create cluster")
        if [ -n "$FAKE_CREATE_FAILS" ]; then
            add  # nodes half made, then the failure
            save
            exit 1
        fi
        printf '%s' "$FAKE_KUBECONFIG" > "$kubeconfig"
        add
        ;;
    "export kubeconfig")
        printf '%s' "$FAKE_KUBECONFIG" > "$kubeconfig"
        ;;
    "delete cluster")
        kept=""
        for c in $clusters; do
            if [ "$c" != "$name" ]; then kept="$kept
$c"; fi
        done
        clusters="$kept"
        ;;
    *)
        if [ "$1" = version ]; then
            echo "kind v0.33.0 go1.24.6 linux/amd64"
        else
            exit 2
        fi
        ;;
esac
save
"""
)

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

FAKE_KUBECTL = "#!/bin/sh\n" + _LOG_CALL


def install_fake_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api_url: str) -> Path:
    """kind, kubectl and docker stand-ins in tmp_path/bin, selected the way a user would
    (AMBIENT_HARNESS_KIND/KUBECTL); the working directory moves to tmp_path/work."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("kind", FAKE_KIND), ("kubectl", FAKE_KUBECTL), ("docker", FAKE_DOCKER)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
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
    return [call.split("\037")[:-1] for call in log.read_text().split("\036\n")[:-1]]
