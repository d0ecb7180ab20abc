"""harness.host.docker: the container engine check, against stand-in docker CLIs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fakes.fake_kind import script

from harness.host.docker import DockerUnavailable, check_docker


def test_docker_missing_from_path(tmp_path: Path) -> None:
    with pytest.raises(DockerUnavailable) as err:
        check_docker(engine="docker", search_path=str(tmp_path))
    message = str(err.value)
    assert "`docker` is not on PATH" in message
    assert "Install Docker" in message
    assert "ambient-harness plan" in message


def test_docker_engine_not_running(tmp_path: Path) -> None:
    script(
        tmp_path,
        "docker",
        "sys.stderr.write('Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\\n')"
        "\nsys.exit(1)",
    )
    with pytest.raises(DockerUnavailable) as err:
        check_docker(engine="docker", search_path=str(tmp_path))
    message = str(err.value)
    assert "engine is not reachable (Cannot connect to the Docker daemon" in message
    assert "systemctl start docker" in message


def test_docker_engine_hanging(tmp_path: Path) -> None:
    script(tmp_path, "docker", "time.sleep(30)")
    with pytest.raises(DockerUnavailable, match=r"did not answer within 0\.3s"):
        check_docker(engine="docker", search_path=str(tmp_path), timeout_s=0.3)


def test_docker_engine_running(tmp_path: Path) -> None:
    script(tmp_path, "docker", "print('Server Version: 28.2.2')")
    check_docker(engine="docker", search_path=str(tmp_path))


_NO_ENGINE = (
    shutil.which("docker") is None
    or bool(os.environ.get("DOCKER_HOST"))
    or Path("/var/run/docker.sock").exists()
)


@pytest.mark.skipif(
    _NO_ENGINE, reason="needs the docker CLI with no engine (as on the dev machine)"
)
def test_real_docker_cli_without_engine() -> None:
    with pytest.raises(DockerUnavailable, match="engine is not reachable"):
        check_docker(engine="docker")
