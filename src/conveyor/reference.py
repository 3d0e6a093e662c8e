"""Image references by the distribution reference grammar (github.com/distribution/reference):

    reference := name [":" tag] ["@" digest]
    name      := [domain "/"] path-component ("/" path-component)*

The first component is a domain when it contains "." or ":" or is "localhost". Path components are
lower-case alphanumerics joined by ".", "_", "__" or runs of "-"; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127};
a digest is algorithm ":" hex (sha256 needs exactly 64 lower-case hex characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from conveyor.errors import BadReference

DEFAULT_DOMAIN = "docker.io"
NAME_MAX = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference. `domain` is empty when the text named none (Docker Hub)."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, text: str) -> ImageReference:
        """Parse `text`, raising BadReference with the reason when it breaks the grammar."""
        if not text or text != text.strip():
            raise BadReference(f"malformed image reference {text!r}", "it is empty or has spaces")
        name, digest = _split_digest(text)
        name, tag = _split_tag(name, text)
        domain, path = _split_domain(name)
        _check_domain(domain, text)
        _check_path(path, text)
        if len(name) > NAME_MAX:
            raise BadReference(f"malformed image reference {text!r}", f"the name is longer than {NAME_MAX} characters")
        return cls(domain=domain, path=path, tag=tag, digest=digest)

    @property
    def registry(self) -> str:
        """The registry host[:port] this reference points at."""
        return self.domain or DEFAULT_DOMAIN

    @property
    def repository(self) -> str:
        """The repository path inside the registry (`library/` added for Docker Hub's short names)."""
        if not self.domain and "/" not in self.path:
            return f"library/{self.path}"
        return self.path

    @property
    def name(self) -> str:
        """domain/path, without tag or digest."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def reference(self) -> str:
        """What the registry API calls the reference: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> ImageReference:
        """The same repository under another tag (and no digest)."""
        if not TAG_PATTERN.match(tag):
            raise BadReference(f"malformed tag {tag!r}", "a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        return replace(self, tag=tag, digest="")

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_digest(text: str) -> tuple[str, str]:
    if "@" not in text:
        return text, ""
    name, digest = text.split("@", 1)
    if digest.startswith("sha256:") and not _SHA256.match(digest):
        raise BadReference(f"malformed image reference {text!r}", "a sha256 digest is 64 lower-case hex characters")
    if not _DIGEST.match(digest):
        raise BadReference(f"malformed image reference {text!r}", f"{digest!r} is not a digest")
    return name, digest


def _split_tag(name: str, text: str) -> tuple[str, str]:
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return name, ""
    tag = last.rsplit(":", 1)[1]
    if not TAG_PATTERN.match(tag):
        raise BadReference(
            f"malformed image reference {text!r}",
            f"tag {tag!r} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}",
        )
    return name[: -len(tag) - 1], tag


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return first, rest
    return "", name


def _check_domain(domain: str, text: str) -> None:
    if domain and not _DOMAIN.match(domain):
        raise BadReference(f"malformed image reference {text!r}", f"{domain!r} is not a registry host[:port]")


def _check_path(path: str, text: str) -> None:
    if not path:
        raise BadReference(f"malformed image reference {text!r}", "the repository name is empty")
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            reason = (
                f"{component!r} has upper-case letters: repository names are lower-case"
                if component != component.lower()
                else f"{component!r} is not lower-case letters and digits joined by '.', '_', '__' or '-'"
            )
            raise BadReference(f"malformed image reference {text!r}", reason)
