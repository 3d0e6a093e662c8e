import pytest

from conveyor.errors import BadReference
from conveyor.reference import ImageReference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest"),
    [
        ("busybox", "", "busybox", "", ""),
        ("library/busybox:1.35", "", "library/busybox", "1.35", ""),
        ("127.0.0.1:5000/group/project/ci:abc", "127.0.0.1:5000", "group/project/ci", "abc", ""),
        ("localhost/app", "localhost", "app", "", ""),
        ("registry.gitlab.com/g/p:main@" + DIGEST, "registry.gitlab.com", "g/p", "main", DIGEST),
        ("reg:5000/a__b/c-d/e.f:T_1.x-y", "reg:5000", "a__b/c-d/e.f", "T_1.x-y", ""),
        ("host/a---b", "", "host/a---b", "", ""),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", ""),
    ],
)
def test_parses_valid_references(text: str, domain: str, path: str, tag: str, digest: str) -> None:
    ref = ImageReference.parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("reg/App:1", "upper-case"),
        ("127.0.0.1:5000/Group/app", "upper-case"),
        ("reg.io/app:" + "t" * 129, "tag"),
        ("reg.io/app:-leading", "tag"),
        ("reg.io/app@sha256:abc", "64"),
        ("reg.io/app@nodigest", "not a digest"),
        ("reg.io/a..b", "joined by"),
        ("reg.io/a/", "joined by"),
        ("reg.io/_a", "joined by"),
        ("-bad.io/app", "registry host"),
        ("reg.io/" + "a" * 250, "longer than 255"),
        (" reg.io/app", "spaces"),
    ],
)
def test_rejects_malformed_references_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(BadReference) as caught:
        ImageReference.parse(text)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_docker_hub_short_names_get_library_prefix_and_registry() -> None:
    ref = ImageReference.parse("busybox:1")
    assert (ref.registry, ref.repository, ref.reference) == ("docker.io", "library/busybox", "1")


def test_with_tag_replaces_tag_and_drops_digest_and_checks_charset() -> None:
    ref = ImageReference.parse("reg.io/app:old@" + DIGEST)
    assert str(ref.with_tag("new")) == "reg.io/app:new"
    with pytest.raises(BadReference):
        ref.with_tag("bad tag")


def test_reference_prefers_digest_over_tag() -> None:
    assert ImageReference.parse("reg.io/app:t@" + DIGEST).reference == DIGEST
    assert ImageReference.parse("reg.io/app").reference == "latest"
