"""Wheels for the job image's offline install.

Conveyor's own wheel is packed from the installation that runs (its package directory and its installed
metadata), so the image gets exactly this code and version, however it was installed (editable from a
checkout, from a wheel, from git), with no build backend to fetch and nothing written to a source tree.
Archives are reproducible (fixed timestamps and modes, sorted members): the same code makes the same wheel,
and the image build's COPY step stays cached."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import distribution
from pathlib import Path

from conveyor.errors import ConfigError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
METADATA_FILES = ("METADATA", "entry_points.txt", "top_level.txt")
PURE_WHEEL = "Wheel-Version: 1.0\nGenerator: conveyor.jobimage\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def escape(name: str) -> str:
    """A project name as wheel file names spell it."""
    return re.sub(r"[-_.]+", "_", name)


def compressed_tags(tags: Sequence[str]) -> str:
    """`py2-none-any`, `py3-none-any` → `py2.py3-none-any` (the wheel file name's tag set)."""
    parts = [tag.split("-") for tag in tags]
    return "-".join(".".join(dict.fromkeys(part[index] for part in parts)) for index in range(3))


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(path: Path, members: Mapping[str, bytes], dist_info: str) -> Path:
    """Write a wheel of `members` (archive name → content, with `<dist_info>/METADATA` and `/WHEEL`) and its
    RECORD, reproducibly."""
    record = [record_line(name, members[name]) for name in sorted(members)]
    record.append(f"{dist_info}/RECORD,,")
    entries = {**members, f"{dist_info}/RECORD": ("\n".join(record) + "\n").encode()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return path


def package_files(directory: Path) -> Iterator[Path]:
    """The files of a package directory, without bytecode caches."""
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}:
            yield path


def conveyor_wheel(directory: Path) -> Path:
    """Conveyor's wheel, packed from the running installation, in `directory`."""
    import conveyor

    dist = distribution("conveyor")
    package = Path(conveyor.__file__).resolve().parent
    dist_info = f"conveyor-{dist.version}.dist-info"
    members = {f"conveyor/{p.relative_to(package).as_posix()}": p.read_bytes() for p in package_files(package)}
    for name in METADATA_FILES:
        text = dist.read_text(name)
        if text is not None:
            members[f"{dist_info}/{name}"] = text.encode()
    if f"{dist_info}/METADATA" not in members:
        raise ConfigError(
            f"the installed Conveyor {dist.version} has no METADATA", "reinstall Conveyor (pip install ...)"
        )
    members[f"{dist_info}/WHEEL"] = PURE_WHEEL.encode()
    return write_wheel(directory / f"conveyor-{dist.version}-py3-none-any.whl", members, dist_info)
