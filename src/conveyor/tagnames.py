"""The kinds of tags Conveyor writes, defined once (the settings validate commits with the same pattern):

- a commit tag is the commit SHA, 7 to 64 lower-case hex characters: the CI image of one commit;
- a release tag is `prod-<commit>`: a prod image built for one commit;
- a promotion tag is `prod` (production's) or `prod-<environment slug>`: what an environment runs now;
- a branch tag is a ref slug by GitLab's rule: the CI image of a branch's latest pipeline.

A tag can look like a commit and be a branch's slug too (a branch named `cafe123`): callers that know the
live branches check that as well."""

from __future__ import annotations

import re

from conveyor.slug import ref_slug

COMMIT = re.compile(r"[0-9a-f]{7,64}")
GENERIC = "prod"
RELEASE_PREFIX = "prod-"
PRODUCTION = "production"
# Slug-shaped tags that people set by hand rather than branches: never taken for a gone branch's tag.
_HAND_MADE = re.compile(r"latest|v[0-9].*")


def is_commit(tag: str) -> bool:
    return COMMIT.fullmatch(tag) is not None


def release_tag(commit: str) -> str:
    return f"{RELEASE_PREFIX}{commit}"


def is_release(tag: str) -> bool:
    return tag.startswith(RELEASE_PREFIX) and is_commit(tag[len(RELEASE_PREFIX) :])


def promotion_tag(environment: str) -> str:
    """`prod` for production (as the seed pipeline had it), `prod-<slug>` for any other environment."""
    return GENERIC if environment == PRODUCTION else f"{RELEASE_PREFIX}{ref_slug(environment)}"


def is_promotion(tag: str) -> bool:
    return tag == GENERIC or (tag.startswith(RELEASE_PREFIX) and not is_release(tag))


def is_slug(tag: str) -> bool:
    """Whether some branch could have `tag` as its slug."""
    return bool(tag) and ref_slug(tag) == tag


def is_branch_tag(tag: str) -> bool:
    """A slug that is not a commit, release or promotion tag, nor one people set by hand (`latest`, `v1`)."""
    return is_slug(tag) and not is_commit(tag) and not tag.startswith(GENERIC) and _HAND_MADE.fullmatch(tag) is None
