"""The deletion guard: one rule per test, then a property test over random registries, clusters and
release histories (no tag a cluster references, nor one of the newest releases, is ever deleted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.gitinfo import Branches
from conveyor.guard.decision import Facts, decide
from conveyor.guard.references import ClusterView, Use, cluster_reference, rough_repository
from conveyor.registry.inventory import TagInfo

REGISTRY = "registry.example.com:5000"
REPO = "shop/web"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
SHAS = [f"{i:x}" * 40 for i in range(1, 10)]


def release(n: int, days_old: float | None, digest: str = "") -> TagInfo:
    created = NOW - timedelta(days=days_old) if days_old is not None else None
    return TagInfo(f"prod-{SHAS[n]}", digest or f"sha256:{n:064x}", created)


def facts(*tags: TagInfo, views: tuple[ClusterView, ...] | None = (), **kwargs: object) -> Facts:
    """Facts with origin asked (no branches unless given) and the clusters `views`."""
    kwargs.setdefault("branches", Branches())
    return Facts(REGISTRY, REPO, {t.tag: t for t in tags}, views, **kwargs)  # type: ignore[arg-type]


def verdicts(candidates: list[str], known: Facts) -> dict[str, tuple[str, str]]:
    return {v.tag: (v.action, v.reason) for v in decide({t: "asked for" for t in candidates}, known)}


def view(*uses: tuple[str, str]) -> ClusterView:
    return ClusterView("environment production (context sim, namespace shop)", tuple(Use(i, w) for i, w in uses))


def test_a_tag_a_deployment_or_its_history_references_is_kept() -> None:
    old, older, oldest = release(1, 30), release(2, 60), release(3, 90)
    cluster = view(
        (f"{REGISTRY}/{REPO}:{old.tag}", "deployment/web (namespace shop, revision 7)"),
        (f"{REGISTRY}/{REPO}:{older.tag}", "replicaset/web-6d4 (namespace shop, revision 6 of deployment/web)"),
    )
    result = verdicts([old.tag, older.tag, oldest.tag], facts(old, older, oldest, views=(cluster,), keep_releases=1))
    assert result[old.tag] == ("keep", "in use by deployment/web (namespace shop, revision 7)")
    assert result[older.tag][1].startswith("in use by replicaset/web-6d4")
    assert result[oldest.tag] == ("delete", "asked for")  # not used, not the newest


def test_a_pod_running_the_image_by_digest_keeps_every_tag_on_that_digest() -> None:
    tag = release(1, 100, digest="sha256:" + "a" * 64)
    pod = view((f"docker-pullable://{REGISTRY}/{REPO}@sha256:{'a' * 64}", "pod/web-1 (namespace shop)"))
    assert verdicts([tag.tag], facts(release(2, 1), tag, views=(pod,), keep_releases=1))[tag.tag] == (
        "keep",
        "in use by pod/web-1 (namespace shop) (by digest)",
    )


def test_references_are_compared_normalised() -> None:
    short, full = cluster_reference("nginx"), cluster_reference("docker.io/library/nginx:latest")
    assert short is not None and full is not None
    assert (short.registry, short.repository, short.tag) == (full.registry, full.repository, full.tag)
    ref = cluster_reference(f"{REGISTRY}/{REPO}:v1@sha256:{'b' * 64}")
    assert ref is not None and (ref.tag, ref.digest) == ("v1", "sha256:" + "b" * 64)
    upper = view((f"REGISTRY.example.com:5000/{REPO}:prod", "deployment/web"))
    hub = Facts("index.docker.io", "library/web", {"x": TagInfo("x", "sha256:1")}, (view(("web:x", "pod/p")),))
    hub = Facts(hub.registry, hub.repository, hub.tags, hub.clusters, branches=Branches())
    assert verdicts(["prod"], facts(TagInfo("prod", "sha256:1"), views=(upper,)))["prod"][1].startswith("in use")
    assert verdicts(["x"], hub)["x"] == ("keep", "in use by pod/p")


def test_an_unparseable_reference_keeps_its_whole_repository() -> None:
    tag = TagInfo("feature-x", "sha256:1")
    odd = view((f"{REGISTRY}/{REPO}:bad tag!", "cronjob/report (namespace shop)"))
    elsewhere = view((f"{REGISTRY}/other/app:bad tag!", "job/x"))
    assert "cannot be parsed" in verdicts(["feature-x"], facts(tag, views=(odd,)))["feature-x"][1]
    assert verdicts(["feature-x"], facts(tag, views=(elsewhere,)))["feature-x"][0] == "delete"
    assert rough_repository(f"{REGISTRY}/Shop/Web:x") == (REGISTRY.lower(), REPO)


def test_a_cluster_that_cannot_be_asked_keeps_everything_it_might_use() -> None:
    down = ClusterView("environment production (context prod)", problem="cannot reach the Kubernetes API")
    result = verdicts(["a"], facts(TagInfo("a", "sha256:1"), views=(down,)))
    assert result["a"] == (
        "keep",
        "cannot tell whether environment production (context prod) uses it: cannot reach the Kubernetes API",
    )
    assert verdicts(["a"], facts(TagInfo("a", "sha256:1"), views=None))["a"][0] == "delete"  # not asked


def test_promotion_tags_and_the_releases_they_point_at_stay() -> None:
    current = release(1, 200, digest="sha256:live")
    staging = TagInfo("prod-staging", "sha256:stage")
    candidate = release(2, 300, digest="sha256:stage")
    known = facts(
        TagInfo("prod", "sha256:live"),
        staging,
        current,
        candidate,
        *(release(n, n) for n in range(3, 8)),
        environments={"prod": "production", "prod-staging": "staging"},
    )
    result = verdicts(["prod", current.tag, candidate.tag], known)
    assert result["prod"] == ("keep", "promotion tag (environment production)")
    assert result[current.tag] == ("keep", "the image promoted as prod (environment production)")
    assert result[candidate.tag] == ("keep", "the image promoted as prod-staging (environment staging)")


def test_newest_releases_and_unknown_ages() -> None:
    unknown = [release(n, None) for n in (1, 2)]
    known = [release(n, 10 * n) for n in (3, 4, 5)]
    result = verdicts([t.tag for t in unknown + known], facts(*unknown, *known, keep_releases=2))
    assert {t.tag: result[t.tag][1] for t in unknown} == {
        t.tag: "creation time unknown: it may be one of the newest releases" for t in unknown
    }
    assert result[known[0].tag][0] == result[known[1].tag][0] == "keep"  # unknown ages displace nothing
    assert result[known[2].tag] == ("delete", "asked for")


def test_branch_tags_of_live_branches_and_an_origin_that_cannot_be_asked() -> None:
    tags = [TagInfo("feature-login", "sha256:1"), TagInfo("old", "sha256:2"), TagInfo("cafe123", "sha256:3")]
    live = Branches(frozenset({"Feature/Login", "cafe123"}))
    result = verdicts(["feature-login", "old", "cafe123"], facts(*tags, branches=live))
    assert result["feature-login"] == ("keep", "branch Feature/Login still exists on origin")
    assert result["old"] == ("delete", "asked for")
    assert result["cafe123"] == ("keep", "branch cafe123 still exists on origin")  # commit-like slug
    down = Branches(problem="git ls-remote origin failed: could not resolve host")
    result = verdicts(["feature-login", "cafe123"], facts(*tags, branches=down))
    assert result["feature-login"][0] == "keep" and "could not resolve host" in result["feature-login"][1]
    assert result["cafe123"][0] == "delete"  # a commit tag needs no branch


def test_placeholders_are_finished_and_missing_tags_are_absent() -> None:
    placeholder = TagInfo("prod-" + SHAS[1], "sha256:p", None, placeholder=True)
    cluster = view((f"{REGISTRY}/{REPO}:{placeholder.tag}", "deployment/web"))
    result = decide({placeholder.tag: "x", "never": "y"}, facts(placeholder, views=(cluster,)))
    assert [(v.tag, v.action, v.placeholder) for v in result] == [
        (placeholder.tag, "delete", True),
        ("never", "absent", False),
    ]


# ---- property ------------------------------------------------------------------------------------------

TAG_NAMES = [f"prod-{sha[:n]}" for sha in SHAS[:6] for n in (7, 40)] + SHAS[:4] + ["main", "feature-a", "prod", "x"]
DIGESTS = [f"sha256:{i:064x}" for i in range(8)]

tag_infos = st.dictionaries(
    st.sampled_from(TAG_NAMES),
    st.tuples(st.sampled_from(DIGESTS), st.one_of(st.none(), st.integers(0, 20)), st.booleans()),
    max_size=len(TAG_NAMES),
)
references = st.lists(
    st.tuples(
        st.sampled_from(["tag", "digest", "other-repo", "garbage"]),
        st.sampled_from(TAG_NAMES),
        st.sampled_from(DIGESTS),
    ),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(
    raw=tag_infos,
    uses=st.lists(references, max_size=3),
    problem=st.booleans(),
    keep=st.integers(1, 4),
    wanted=st.lists(st.sampled_from([*TAG_NAMES, "absent-tag"]), max_size=12),
    live=st.frozensets(st.sampled_from(["main", "feature-a", SHAS[0][:7]]), max_size=3),
)
def test_no_tag_a_cluster_uses_nor_a_kept_release_is_ever_deleted(
    raw: dict[str, tuple[str, int | None, bool]],
    uses: list[list[tuple[str, str, str]]],
    problem: bool,
    keep: int,
    wanted: list[str],
    live: frozenset[str],
) -> None:
    tags = {
        tag: TagInfo(tag, digest, NOW - timedelta(days=age) if age is not None else None, placeholder)
        for tag, (digest, age, placeholder) in raw.items()
    }
    views = [view(*(_reference(kind, tag, digest) for kind, tag, digest in refs)) for refs in uses]
    if problem:
        views.append(ClusterView("environment staging", problem="forbidden"))
    known = Facts(REGISTRY, REPO, tags, tuple(views), keep_releases=keep, branches=Branches(live))
    referenced_tags = {tag for refs in uses for kind, tag, _ in refs if kind == "tag"}
    referenced_digests = {digest for refs in uses for kind, _, digest in refs if kind == "digest"}
    garbage = any(kind == "garbage" for refs in uses for kind, _, _ in refs)
    for verdict in decide({tag: "wanted" for tag in wanted}, known):
        info = tags.get(verdict.tag)
        if verdict.action != "delete":
            continue
        assert info is not None
        if info.placeholder:
            continue
        assert not problem and not garbage
        assert verdict.tag not in referenced_tags and info.digest not in referenced_digests
        assert verdict.tag != "prod" and verdict.tag not in live
        assert not any(t.tag == "prod" and t.digest == info.digest and not t.placeholder for t in tags.values())
        if verdict.tag.startswith("prod-"):
            assert info.created is not None
            newer = [
                t
                for t in tags.values()
                if t.tag.startswith("prod-") and not t.placeholder and t.created is not None
                if (t.created, t.tag) > (info.created, verdict.tag)
            ]
            assert len(newer) >= keep, (verdict, newer)


def _reference(kind: str, tag: str, digest: str) -> tuple[str, str]:
    image = {
        "tag": f"{REGISTRY}/{REPO}:{tag}",
        "digest": f"{REGISTRY}/{REPO}@{digest}",
        "other-repo": f"{REGISTRY}/shop/other:{tag}",
        "garbage": f"{REGISTRY}/{REPO}:{tag} !",
    }[kind]
    return image, f"{kind} reference"
