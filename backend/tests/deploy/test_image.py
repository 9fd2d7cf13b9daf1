"""The Dockerfile keeps its promises (stages, the web app built in, a non-root user,
gunicorn main:app), and `make image` steps aside, saying why, where no engine can build it."""

from __future__ import annotations

import re
import subprocess

from tests.deploy.conftest import DEPLOY

DOCKERFILE = (DEPLOY.parent / "Dockerfile").read_text()


def test_the_dockerfile_builds_in_stages_and_runs_as_a_numeric_non_root_user():
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", DOCKERFILE, re.MULTILINE)
    assert [name for _, name in stages] == ["web", "build", "runtime"]
    assert all(image.endswith("-slim") for image, _ in stages)
    assert "COPY --from=web /web/dist ./web" in DOCKERFILE
    assert "COPY --from=build /opt/venv /opt/venv" in DOCKERFILE
    (user,) = re.findall(r"^USER (.+)$", DOCKERFILE, re.MULTILINE)
    uid, _, gid = user.partition(":")
    assert int(uid) > 0 and int(gid) > 0
    assert DOCKERFILE.rstrip().endswith('CMD ["gunicorn", "-c", "gunicorn.conf.py", "main:app"]')


def test_make_image_says_why_it_builds_nothing_without_an_engine(tmp_path):
    # A PATH where `docker` answers that no engine runs.
    docker = tmp_path / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    result = subprocess.run(
        [str(DEPLOY / "image.sh")],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no Docker engine answers" in result.stderr
    assert "the image is not built here" in result.stderr
