"""Docker Registry HTTP API v2 adapter. HTTP in layers: transport (the one place that sends it), retry
(backoff within a deadline), auth (challenge, tokens), answers (one-line errors), options (given once);
on top: client (the v2 operations), inventory (tags with digests and ages), deletion (deleting tags, with
permits only), promotion (moving a tag server-side), gitlab (GitLab's tags API); credentials and manifests
support them."""

from conveyor.registry.client import RegistryClient
from conveyor.registry.credentials import Credentials, resolve_credentials
from conveyor.registry.options import GitLabTagsApi, RegistryOptions
from conveyor.registry.retry import RetryPolicy

__all__ = ["Credentials", "GitLabTagsApi", "RegistryClient", "RegistryOptions", "RetryPolicy", "resolve_credentials"]
