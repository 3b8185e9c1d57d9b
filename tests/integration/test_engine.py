"""The Docker module's housekeeping with the real engine: import, labels, clean-up."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

import docker
from ljprof import commands, docker_engine
from ljprof.image.plan import LABEL_MANAGED

from .conftest import all_container_ids

pytestmark = pytest.mark.docker


def test_import_rootfs_makes_an_image_with_the_files(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """What `invoke base-image` does after debootstrap, on a one-file root filesystem."""
    tarball = tmp_path / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        data = b"ljprof rootfs\n"
        info = tarfile.TarInfo("etc/ljprof-hello")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tag = "ljprof-test/rootfs:tiny"
    image_id = docker_engine.import_rootfs(docker_client, tarball, tag)
    try:
        assert image_id.startswith("sha256:")
        image = docker_engine.find_image(docker_client, tag)
        assert image is not None and image.id == image_id
        with docker_engine.container(docker_client, tag, ["/nothing"]) as c:
            stream, _ = c.get_archive("/etc/ljprof-hello")
            archive = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=archive) as tar:
            member = tar.extractfile("ljprof-hello")
            assert member is not None and member.read() == b"ljprof rootfs\n"
    finally:
        docker_client.images.remove(tag, force=True)


def test_clean_removes_leftover_labelled_containers_only(docker_client: docker.DockerClient, base_image: str) -> None:
    ours = docker_client.containers.create(base_image, ["true"], labels={LABEL_MANAGED: "true"})
    theirs = docker_client.containers.create(base_image, ["true"])
    try:
        out = io.StringIO()
        commands.clean(out)
        remaining = all_container_ids(docker_client)
        assert ours.id not in remaining
        assert theirs.id in remaining
        assert f"  {ours.name}\n" in out.getvalue()
    finally:
        theirs.remove(force=True)


def test_container_is_removed_when_the_body_fails(docker_client: docker.DockerClient, base_image: str) -> None:
    with pytest.raises(RuntimeError), docker_engine.container(docker_client, base_image, ["true"]) as c:
        created = c.id
        raise RuntimeError("the caller failed")
    assert created not in all_container_ids(docker_client)
