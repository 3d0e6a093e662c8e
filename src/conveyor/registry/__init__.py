"""Docker Registry HTTP API v2 adapter: transport (HTTP with the auth challenge, token cache, retries within
a deadline), client (the v2 operations), deletion (safe tag deletion), gitlab (GitLab's tags API), cleanup
(the cleanup engine); auth, credentials, manifests and errors support them."""

from conveyor.registry.client import RegistryClient
from conveyor.registry.credentials import Credentials, resolve_credentials
from conveyor.registry.deletion import PendingDeletion, TagDeletion
from conveyor.registry.gitlab import GitLabTagsApi
from conveyor.registry.manifests import Manifest
from conveyor.registry.transport import RetryPolicy

__all__ = [
    "Credentials",
    "GitLabTagsApi",
    "Manifest",
    "PendingDeletion",
    "RegistryClient",
    "RetryPolicy",
    "TagDeletion",
    "resolve_credentials",
]
