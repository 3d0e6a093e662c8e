"""Faults and races against real registries: a seeded fault-injecting proxy failing requests before they reach
the registry or after it acted (answers lost), with and without short-lived tokens; concurrent cleanups and
pushes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from registry_helpers import PASSWORD, fast_retry, maintainer_client, push_image

from conveyor.registry import Credentials, RegistryClient, RegistryOptions, inventory
from tests.support import deletions
from tests.support.faultproxy import AFTER, BEFORE, FAULTS, FaultProxy
from tests.support.registry import RegistryProcess
from tests.support.tokenserver import TokenServer

pytestmark = pytest.mark.integration
REPO = "group/app"


@pytest.fixture
def short_token_registry(tmp_path: Path, token_server: TokenServer) -> Iterator[RegistryProcess]:
    token_server.lifetime = 3  # tokens expire several times during a run
    process = RegistryProcess(tmp_path / "registry", extra_config=token_server.registry_auth_config()).start()
    yield process
    process.stop()


def populate(client: RegistryClient, doomed: int, survivors: int) -> dict[str, str]:
    """`doomed` tags `del-*` and `survivors` tags `keep-*`; every doomed tag shares its digest with a survivor
    (so deleting any digest would take a survivor with it). Returns tag → digest."""
    digests: dict[str, str] = {}
    for image in range(survivors):
        keep = f"keep-{image:03d}"
        tags = [keep] + [f"del-{n:03d}" for n in range(doomed) if n % survivors == image]
        digest = push_image(client, REPO, tags, f"image-{image}")
        digests.update(dict.fromkeys(tags, digest))
    return digests


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_deleting_200_tags_through_faults(
    seed: int, short_token_registry: RegistryProcess, token_server: TokenServer
) -> None:
    direct = maintainer_client(short_token_registry)
    digests = populate(direct, doomed=200, survivors=40)
    doomed = sorted(tag for tag in digests if tag.startswith("del-"))
    proxy = FaultProxy(short_token_registry.address, seed=seed, rate=0.2).start()
    try:
        flaky = RegistryClient(
            proxy.address,
            Credentials("maintainer", PASSWORD, "test"),
            options=RegistryOptions(scheme="http", retry=fast_retry()),
        )
        issued = token_server.issued
        report = deletions.delete_tags(flaky, REPO, doomed, workers=8)
    finally:
        proxy.stop()
    assert report.ok, [o.line(REPO) for o in report.outcomes if o.action == "failed"]
    assert sorted(report.deleted + report.absent) == doomed
    faults = sum(count for name, count in proxy.counts.items() if name != "relayed")
    assert faults >= 50, proxy.counts  # the run really went through faults of every kind
    assert all(proxy.counts[kind] > 0 for kind in FAULTS), proxy.counts
    assert token_server.issued > issued  # tokens expired during the run and were renewed
    survivors = sorted(tag for tag in digests if tag.startswith("keep-"))
    assert sorted(direct.list_tags(REPO)) == survivors
    assert {t: i.digest for t, i in inventory.collect_tags(direct, REPO).items()} == {t: digests[t] for t in survivors}


# name → a proxy (upstream, seed) failing some requests (a share, or a share per method) in some ways
FAULT_MODES: dict[str, Callable[[str, int], FaultProxy]] = {
    "fail-30%-before-the-registry-acts": lambda upstream, seed: FaultProxy(upstream, seed, 0.3, faults=BEFORE),
    "fail-30%-after-the-registry-acted": lambda upstream, seed: FaultProxy(upstream, seed, 0.3, faults=AFTER),
    "lose-40%-of-delete-answers": lambda upstream, seed: FaultProxy(
        upstream, seed, 0.0, faults=AFTER, rates={"DELETE": 0.4}
    ),
}


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("mode", list(FAULT_MODES))
def test_deleting_120_tags_behind_a_faulty_proxy(mode: str, seed: int, registry: RegistryProcess) -> None:
    """The default deadline, short retry delays: every doomed tag goes, every other tag and every shared digest
    stays, no tag fails."""
    direct = RegistryClient(registry.address, options=RegistryOptions(scheme="http"))
    digests = populate(direct, doomed=120, survivors=30)
    doomed = sorted(tag for tag in digests if tag.startswith("del-"))
    proxy = FAULT_MODES[mode](registry.address, seed).start()
    try:
        with RegistryClient(proxy.address, options=RegistryOptions(scheme="http", retry=fast_retry())) as flaky:
            report = deletions.delete_tags(flaky, REPO, doomed, workers=8)
    finally:
        proxy.stop()
    assert report.ok, [o.line(REPO) for o in report.outcomes if o.action == "failed"]
    assert sorted(report.deleted + report.absent) == doomed
    assert sum(count for name, count in proxy.counts.items() if name != "relayed") >= 25, proxy.counts
    assert all(proxy.counts[kind] > 0 for kind in proxy.faults), proxy.counts  # every kind of fault happened
    survivors = {tag: digest for tag, digest in digests.items() if tag.startswith("keep-")}
    assert sorted(direct.list_tags(REPO)) == sorted(survivors)
    assert {t: i.digest for t, i in inventory.collect_tags(direct, REPO).items()} == survivors


def test_two_cleanups_and_a_push_racing_lose_nothing(registry: RegistryProcess) -> None:
    direct = RegistryClient(registry.address, options=RegistryOptions(scheme="http", retry=fast_retry()))
    digests = populate(direct, doomed=120, survivors=20)
    doomed = sorted(tag for tag in digests if tag.startswith("del-"))
    first, second = doomed[:80], doomed[40:]  # overlapping halves
    pushed: dict[str, str] = {}
    errors: list[BaseException] = []

    def run(action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except BaseException as error:
            errors.append(error)

    def push() -> None:
        pusher = RegistryClient(registry.address, options=RegistryOptions(scheme="http", retry=fast_retry()))
        for n in range(30):
            pushed[f"new-{n:02d}"] = push_image(pusher, REPO, [f"new-{n:02d}"], f"new-{n}")
            pusher.retag(REPO, f"keep-{n % 20:03d}", f"keep-{n % 20:03d}")  # re-push a survivor as is

    def clean(tags: list[str]) -> None:
        mine = RegistryClient(registry.address, options=RegistryOptions(scheme="http", retry=fast_retry()))
        report = deletions.delete_tags(mine, REPO, tags, workers=4)
        assert report.ok, [o.line(REPO) for o in report.outcomes if o.action == "failed"]

    threads = [
        threading.Thread(target=run, args=(lambda: clean(first),)),
        threading.Thread(target=run, args=(lambda: clean(second),)),
        threading.Thread(target=run, args=(push,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    survivors = {tag: digest for tag, digest in digests.items() if tag.startswith("keep-")} | pushed
    assert sorted(direct.list_tags(REPO)) == sorted(survivors)
    assert {t: i.digest for t, i in inventory.collect_tags(direct, REPO, only=survivors).items()} == survivors
