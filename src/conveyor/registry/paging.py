"""The pages of one tags list (`Link: <…>; rel="next"`), kept honest: each page is fetched once, from the
configured registry (a Link naming the registry's host is fetched at the configured scheme and port, so that
the credentials go nowhere else; one naming another host is refused), no list has more than MAX_PAGES
pages, and a page that only repeats tags already listed ends the list as a loop. Breaking a rule is a
one-line RegistryProtocolError naming the registry, the repository and the page (pure: RegistryClient's
list_tags asks before fetching each page)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urljoin, urlsplit

from conveyor.registry.errors import RegistryProtocolError
from conveyor.registry.redirects import origin, where

# No registry serves that many pages: distribution, GitLab and Harbor serve up to 1,000 tags a page when
# asked (`n=1000`), and even a registry that caps pages at 100 tags would need a repository of a million
# tags. A list longer than this is a registry (or proxy) paginating without end; the deadline usually ends
# it first, the cap holds when the deadline is long and the pages are fast (10,000 local pages take ~10 s).
MAX_PAGES = 10_000
HINT = "check the registry and any proxy in front of it (Conveyor stops rather than list without end)"

PageKey = tuple[str, str, int, str, tuple[tuple[str, str], ...]]


def page_key(url: str) -> PageKey:
    """What makes two page URLs the same page: origin, path and the query's parameters in any order."""
    parts = urlsplit(url)
    return (*origin(url), parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))))


def shown(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class TagPages:
    """The pages of one listing of `repository` on `registry` (whose base URL is `registry_url`)."""

    def __init__(self, registry: str, registry_url: str, repository: str, cap: int | None = None) -> None:
        self.registry = registry
        self.registry_url = registry_url
        self.repository = repository
        self.cap = MAX_PAGES if cap is None else cap
        self.count = 0
        self.tags: list[str] = []
        self._seen: dict[PageKey, int] = {}
        self._known: set[str] = set()

    def next_url(self, link: str, page_url: str) -> str:
        """Where the next page is fetched: the Link `link` of the page fetched from `page_url`, on the
        configured registry's scheme and port; a Link to another host is refused."""
        target = urljoin(page_url, link)
        if (urlsplit(target).hostname or "").lower() != (urlsplit(self.registry_url).hostname or "").lower():
            raise RegistryProtocolError(
                f"registry {self.registry} linked page {self.count + 1:,} of the tags of {self.repository} to "
                f"another host, {where(target)}",
                "Conveyor sends the registry's credentials to the registry only; " + HINT,
            )
        return self.registry_url.rstrip("/") + shown(target)

    def fetching(self, url: str) -> None:
        """Count the page about to be fetched from `url` (absolute); raise when it breaks a rule."""
        number = self.count + 1
        key = page_key(url)
        if key in self._seen:
            raise RegistryProtocolError(
                f"registry {self.registry} linked page {number:,} of the tags of {self.repository} back to page "
                f"{self._seen[key]:,} ({shown(url)}): its tags list loops",
                HINT,
            )
        if number > self.cap:
            raise RegistryProtocolError(
                f"registry {self.registry} linked page {number:,} of the tags of {self.repository} ({shown(url)}): "
                f"more than {self.cap:,} pages, which no registry serves",
                HINT,
            )
        self._seen[key] = number
        self.count = number

    def add(self, tags: Iterable[str], url: str, more: bool) -> None:
        """Take in the tags of the page just fetched from `url`; `more`: it links a next page. A page that links
        on but lists only tags already listed is a loop (the same page under another URL)."""
        page = [str(tag) for tag in tags]
        new = [tag for tag in page if tag not in self._known]
        if more and page and not new:
            raise RegistryProtocolError(
                f"registry {self.registry} sent page {self.count:,} of the tags of {self.repository} ({shown(url)}) "
                "with only tags of earlier pages, and a link to another: its tags list loops",
                HINT,
            )
        self._known.update(new)
        self.tags.extend(page)
