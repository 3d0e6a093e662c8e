"""Ctrl-C and SIGTERM in the middle of a cleanup: nothing new starts, the tags in flight are finished (no
tag is left on a placeholder), the output says what changed and what did not, and the exit code is 130 or
143."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from conveyor.registry import RegistryClient, RegistryOptions
from tests.support.example import Example
from tests.support.faultproxy import FaultProxy
from tests.support.images import push_image
from tests.support.integration import registry_tags

pytestmark = pytest.mark.e2e
TAGS = [f"build.{n:03d}" for n in range(150)]


def behind_a_proxy(example: Example, delay: float) -> Iterator[FaultProxy]:
    """TAGS pushed, and a proxy in front of the registry answering each request `delay` seconds late."""
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        push_image(client, example.repository, TAGS, "many")
    proxy = FaultProxy(example.registry.address, rate=0.0, delay=delay).start()
    yield proxy
    proxy.stop()


def deleting(example: Example, proxy: FaultProxy, within: float) -> subprocess.Popen[str]:
    """`inv cleanup.policy --delete build.* --execute` through `proxy`, once it has begun deleting."""
    env = example.env(CI_REGISTRY=proxy.address, CI_REGISTRY_IMAGE=f"{proxy.address}/{example.name}/example")
    run = subprocess.Popen(
        [sys.executable, "-m", "invoke", "cleanup.policy", "--delete", "build.*", "--execute"],
        cwd=example.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + within
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        while not client.get_manifest(example.repository, TAGS[0]).is_placeholder:  # deletions have begun
            assert time.monotonic() < deadline and run.poll() is None, "the cleanup never started deleting"
            time.sleep(0.02)
    return run


@pytest.fixture
def slow(example: Example) -> Iterator[FaultProxy]:
    yield from behind_a_proxy(example, delay=0.03)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_finishes_the_tags_in_flight_and_reports(
    example: Example, slow: FaultProxy, signum: int, code: int
) -> None:
    run = deleting(example, slow, within=60)
    run.send_signal(signum)
    stdout, stderr = run.communicate(timeout=120)

    assert run.returncode == code, stdout + stderr
    assert "Traceback" not in stderr
    deleted = [line.split()[1].split(":")[1] for line in stdout.splitlines() if line.startswith("deleted ")]
    waiting = [line.split()[1].split(":")[1] for line in stdout.splitlines() if line.startswith("not-started ")]
    assert deleted and waiting, stdout
    assert sorted(deleted + waiting) == TAGS
    name = signal.Signals(signum).name
    assert f"conveyor: interrupted by {name}: {len(deleted)} tags deleted, {len(waiting)} not started" in stderr
    left = registry_tags(example.registry.url, example.repository)
    assert left == sorted(waiting), "exactly the tags not started remain"
    with RegistryClient(example.registry.address, options=RegistryOptions(scheme="http")) as client:
        assert not [tag for tag in left if client.get_manifest(example.repository, tag).is_placeholder]


@pytest.fixture
def slower(example: Example) -> Iterator[FaultProxy]:
    """A registry so slow that finishing the tags in flight takes seconds: time for a second signal."""
    yield from behind_a_proxy(example, delay=0.4)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_second_signal_stops_at_once_with_the_same_code_and_says_what_it_deleted(
    example: Example, slower: FaultProxy, signum: int, code: int
) -> None:
    run = deleting(example, slower, within=120)
    run.send_signal(signum)
    time.sleep(0.5)
    assert run.poll() is None, "still finishing the tags in flight"
    run.send_signal(signum)
    stopped = time.monotonic()
    stdout, stderr = run.communicate(timeout=30)
    assert time.monotonic() - stopped < 5, "a second signal stops at once"
    assert run.returncode == code, stdout + stderr
    name = signal.Signals(signum).name
    (last,) = [line for line in stderr.splitlines() if line.startswith(f"conveyor: {name} again")]
    assert "stopped at once; deleted before the stop: " in last and f"of {len(TAGS)})" in last
    said = last.split("deleted before the stop: ", 1)[1].rsplit(" (", 1)[0]
    deleted = [] if said == "nothing" else said.split(", ")
    left = registry_tags(example.registry.url, example.repository)
    assert not set(deleted) & set(left), "every tag it says it deleted is gone"
