"""Docker Registry HTTP API v2 client (auth challenge, token cache, retries, safe tag deletion)."""

from conveyor.registry.client import GitLabTagsApi, PendingDeletion, RegistryClient, RetryPolicy, TagDeletion
from conveyor.registry.credentials import Credentials, resolve_credentials
from conveyor.registry.manifests import Manifest

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
