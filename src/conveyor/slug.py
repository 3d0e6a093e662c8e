"""GitLab's CI_COMMIT_REF_SLUG rule, for runs outside GitLab."""

from __future__ import annotations

import re

SLUG_MAX = 63


def ref_slug(ref: str) -> str:
    """Lower-case `ref`, turn every run of characters outside [a-z0-9] into "-", keep at most 63
    characters and strip "-" from both ends (GitLab's rule for CI_COMMIT_REF_SLUG)."""
    slug = re.sub(r"[^a-z0-9]+", "-", ref.lower())[:SLUG_MAX]
    return slug.strip("-")
