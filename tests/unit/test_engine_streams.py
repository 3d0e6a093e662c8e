from typing import Any

import pytest

from conveyor.docker.engine import pushed_digest, stream_errors
from conveyor.errors import DockerError

DIGEST = "sha256:" + "b" * 64


def test_error_inside_a_200_stream_raises() -> None:
    chunks: list[dict[str, Any]] = [
        {"status": "The push refers to repository [127.0.0.1:5000/x]"},
        {"status": "Preparing", "id": "abc", "progressDetail": {}},
        {"errorDetail": {"message": "unauthorized: authentication required"}, "error": "unauthorized"},
    ]
    with pytest.raises(DockerError, match="unauthorized: authentication required"):
        stream_errors(chunks)


def test_plain_error_string_is_enough() -> None:
    with pytest.raises(DockerError, match="manifest unknown"):
        stream_errors([{"error": "manifest unknown"}])


def test_clean_stream_forwards_status_and_reports_digest() -> None:
    seen: list[object] = []
    chunks: list[dict[str, Any]] = [
        {"status": "Pushed", "id": "abc"},
        {"status": "Pushing", "id": "abc", "progressDetail": {"current": 1, "total": 2}},
        {"status": f"main: digest: {DIGEST} size: 528"},
        {"progressDetail": {}, "aux": {"Tag": "main", "Digest": DIGEST, "Size": 528}},
    ]
    assert pushed_digest(stream_errors(chunks, seen.append)) == DIGEST
    assert seen == chunks


def test_push_without_digest_is_an_error() -> None:
    with pytest.raises(DockerError, match="without reporting a digest"):
        pushed_digest([{"status": "Pushed"}])
