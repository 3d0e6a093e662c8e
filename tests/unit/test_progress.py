from typing import Any

from conveyor.console import Console
from conveyor.progress import TransferProgress
from conveyor.redact import Redactor

CHUNKS: list[dict[str, Any]] = [
    {"status": "The push refers to repository [reg/app]"},
    {"status": "Preparing", "id": "aaa", "progressDetail": {}},
    {"status": "Preparing", "id": "bbb", "progressDetail": {}},
    {"status": "Pushing", "id": "aaa", "progressDetail": {"current": 512 * 1024, "total": 2 * 1024 * 1024}},
    {"status": "Layer already exists", "id": "bbb", "progressDetail": {}},
    {"status": "Pushed", "id": "aaa", "progressDetail": {}},
    {"status": "main: digest: sha256:x size: 1"},
]


def test_progress_counts_layers_and_bytes() -> None:
    progress = TransferProgress("push", "reg/app:main")
    finished = [progress.update(chunk)[1] for chunk in CHUNKS]
    assert finished == [False, False, False, False, True, True, False]
    assert progress.text() == "push reg/app:main: 2/2 layers, 2.0 MB/2.0 MB"


def test_without_a_terminal_each_finished_layer_is_one_plain_line() -> None:
    lines: list[str] = []
    observe = Console(Redactor(), lines.append).transfer("push", "reg/app:main")
    for chunk in CHUNKS:
        observe(chunk)
    assert lines == [
        "  bbb Layer already exists (1/2 layers, 512.0 kB/2.0 MB)",
        "  aaa Pushed (2/2 layers, 2.0 MB/2.0 MB)",
    ]


def test_on_a_terminal_progress_is_rewritten_in_place_and_colours_are_optional() -> None:
    lines: list[str] = []
    statuses: list[str] = []
    console = Console(Redactor(), lines.append, colour=True, status=statuses.append)
    observe = console.transfer("pull", "reg/app:main")
    for chunk in CHUNKS:
        observe(chunk)
    console.line("done")
    assert lines == ["", "done"]  # the status line is ended before the next line
    assert statuses[-1] == "pull reg/app:main: 2/2 layers, 2.0 MB/2.0 MB"
    assert console.paint("ok", "green") == "\x1b[32mok\x1b[0m"
    assert Console(Redactor(), lines.append).paint("ok", "green") == "ok"


def test_gitlab_sections_wrap_steps() -> None:
    lines: list[str] = []
    with Console(Redactor(), lines.append, gitlab_sections=True).section("build", "Build it"):
        pass
    assert lines[0].startswith("\x1b[0Ksection_start:") and lines[0].endswith(
        ":build[collapsed=false]\r\x1b[0KBuild it"
    )
    assert lines[1].startswith("\x1b[0Ksection_end:") and ":build\r" in lines[1]
