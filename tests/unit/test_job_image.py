"""The job image's pure parts: its name, the wheel packed from the running installation, the wheels pip
picks for the base, what the base must offer, the compose plugin check, the flags and the dry-run plan."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from conveyor import versions
from conveyor.config.loading import load_settings
from conveyor.config.settings import Settings
from conveyor.errors import ConfigError, ToolError
from conveyor.jobimage.base import Base, Origin, base_ref, cache_ref, recipe_tag
from conveyor.jobimage.build import Request, plan
from conveyor.jobimage.context import BasePlatform, ComposePlugin, check_compose_binary, dockerfile_text, parse_probe
from conveyor.jobimage.wheels import compressed_tags, conveyor_wheel
from conveyor.reference import ImageReference
from conveyor.tasks.jobimage import job_image

SHA = "0123456789abcdef0123456789abcdef01234567"
BASE = ImageReference.parse("r.test/g/base:1")


def settings_for(registry_image: str) -> Settings:
    environ = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "main", "CI_REGISTRY": "r.test"}
    return load_settings(Path("/project"), {}, {**environ, "CI_REGISTRY_IMAGE": registry_image}, {}, lambda q: None)


def test_the_job_image_is_registry_image_conveyor_job_version(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for("r.test/group/app")
    monkeypatch.setattr(versions, "conveyor_version", lambda: "1.2.3")
    assert str(versions.job_image_ref(settings.registry_image)) == "r.test/group/app/conveyor-job:1.2.3"
    monkeypatch.setattr(versions, "conveyor_version", lambda: "1.2.3.dev4+g0abc")
    assert versions.job_image_ref(settings.registry_image).tag == "1.2.3.dev4-g0abc"


def test_the_debootstrapped_base_is_named_by_its_recipe() -> None:
    tag = recipe_tag()
    assert tag.startswith("bookworm-") and len(tag) == len("bookworm-") + 12
    assert str(base_ref("r.test/g")) == f"r.test/g/conveyor-job-base:{tag}"
    assert str(cache_ref()) == f"conveyor-job-base:{tag}" and cache_ref().domain == ""


def test_conveyor_wheel_is_complete_verifiable_and_reproducible(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = conveyor_wheel(tmp_path / "a"), conveyor_wheel(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert first.name == f"conveyor-{versions.conveyor_version()}-py3-none-any.whl"
    with zipfile.ZipFile(first) as archive:
        names = set(archive.namelist())
        info = f"conveyor-{versions.conveyor_version()}.dist-info"
        assert {"conveyor/__init__.py", "conveyor/py.typed", "conveyor/jobimage/Dockerfile"} <= names
        assert {f"{info}/{n}" for n in ("METADATA", "WHEEL", "entry_points.txt", "RECORD")} <= names
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert "conveyor = conveyor.cli:main" in archive.read(f"{info}/entry_points.txt").decode()
        record = archive.read(f"{info}/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if name.endswith("RECORD"):
                continue
            data = archive.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data), name
        assert len(record) == len(names)


def test_wheel_file_names_carry_the_compressed_tag_set() -> None:
    assert compressed_tags(["py3-none-any"]) == "py3-none-any"
    assert compressed_tags(["py2-none-any", "py3-none-any"]) == "py2.py3-none-any"
    assert (
        compressed_tags(["cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"])
        == "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    )


def test_pip_picks_wheels_for_the_base_python_and_every_manylinux_up_to_its_glibc() -> None:
    options = BasePlatform(python=(3, 11), machine="x86_64", glibc=(2, 36)).pip_options()
    assert options[:10] == (
        *("--only-binary", ":all:", "--implementation", "cp"),
        *("--python-version", "311", "--abi", "cp311", "--platform", "manylinux_2_36_x86_64"),
    )
    platforms = [options[i + 1] for i, option in enumerate(options) if option == "--platform"]
    assert platforms[0] == "manylinux_2_36_x86_64" and platforms[-1] == "manylinux1_x86_64"
    assert {"manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64"} <= set(
        platforms
    )
    assert "manylinux_2_37_x86_64" not in platforms and len(platforms) == len(set(platforms))


def probe_answer(python: list[int], libc: list[str], missing: list[str]) -> str:
    return json.dumps({"python": python, "machine": "x86_64", "libc": libc, "missing": missing})


def test_the_probe_answer_becomes_the_target() -> None:
    target = parse_probe(BASE, probe_answer([3, 12], ["glibc", "2.39"], []))
    assert target == BasePlatform(python=(3, 12), machine="x86_64", glibc=(2, 39))
    assert target.describe() == "CPython 3.12, glibc 2.39, x86_64"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (probe_answer([3, 10], ["glibc", "2.31"], []), "has Python 3.10; Conveyor needs >= 3.11"),
        (probe_answer([3, 12], ["", ""], []), "has no glibc (found none)"),
        (probe_answer([3, 11], ["glibc", "2.36"], ["docker", "git"]), "has no docker and no git"),
    ],
)
def test_a_base_the_job_image_cannot_use_is_refused(answer: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_probe(BASE, answer)
    assert f"the base image {BASE} {problem}" in str(caught.value)


def elf(machine: int, bits: int = 2) -> bytes:
    return b"\x7fELF" + bytes([bits, 1]) + bytes(12) + machine.to_bytes(2, "little") + bytes(44)


@pytest.mark.parametrize(
    ("header", "ok"),
    [(elf(62), True), (elf(183), False), (elf(62, bits=1), False), (b"\xcf\xfa\xed\xfe" + bytes(60), False)],
)
def test_the_compose_plugin_must_be_a_linux_program_for_the_base_machine(
    tmp_path: Path, header: bytes, ok: bool
) -> None:
    plugin = tmp_path / "docker-compose"
    plugin.write_bytes(header)
    if ok:
        check_compose_binary(ComposePlugin(plugin, "v2"), "x86_64")
        return
    with pytest.raises(ToolError, match="is not a 64-bit Linux x86_64 program"):
        check_compose_binary(ComposePlugin(plugin, "v2"), "x86_64")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request(base="debian:bookworm", refresh_base=True), "--refresh-base is about the debootstrapped base"),
        (Request(base="debian:bookworm", mirror="http://m.test/debian"), "--mirror is about the debootstrapped"),
        (Request(mirror="deb.debian.org/debian"), "--mirror 'deb.debian.org/debian' is not a URL"),
    ],
)
def test_flags_that_do_not_go_together_are_refused(request_: Request, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        request_.checked()
    assert Request().checked().mirror == "http://deb.debian.org/debian"


def test_the_dry_run_plan_names_every_command_and_push() -> None:
    ref = ImageReference.parse("r.test/g/conveyor-job:1.0")
    base = Base(base_ref("r.test/g"), Origin.DEBOOTSTRAP)
    steps = plan(ref, base, ComposePlugin(Path("/p/docker-compose"), "v2.40.3"), "http://m.test/debian")
    assert steps[0] == (
        "run: debootstrap --variant=minbase --include=python3,python3-venv,docker.io,git,ca-certificates "
        "bookworm '<temporary directory>/root' http://m.test/debian"
    )
    assert steps[2] == f"push {base.ref}"
    assert f"docker build --network none --force-rm --tag {ref} --build-arg BASE_IMAGE={base.ref}" in steps[-2]
    assert steps[-1] == f"push {ref} and check its digest in the registry"
    given = plan(ref, Base(BASE, Origin.GIVEN), ComposePlugin(Path("/p/docker-compose"), "v2.40.3"), "")
    assert not any(step.startswith("push r.test/g/base") for step in given)


def test_the_dockerfile_ships_in_the_package_and_installs_offline() -> None:
    text = dockerfile_text()
    assert "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n" in text
    assert "--no-index" in text and '"conveyor==${CONVEYOR_VERSION}"' in text
    assert "docker compose version" in text


def test_the_task_documents_every_flag() -> None:
    assert set(job_image.help) == {"dry_run", "base", "mirror", "refresh_base"}
    assert job_image.__doc__ and "conveyor-job:<Conveyor version>" in job_image.__doc__
