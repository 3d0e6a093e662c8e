"""Where the cluster configuration comes from, and connecting: `--kubeconfig`, KUBECONFIG (a list merged as
kubectl merges it), ~/.kube/config, then in-cluster; the context named (else the current one) and its
namespace. The one home of connecting to a cluster (`connect`): every stage that asks a cluster comes here.
The `kubernetes` client's own kubeconfig loader does the reading; it is imported only when a cluster is
asked. Every problem is one ClusterError line."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.kube.cluster import DEFAULT_TIMEOUTS, Cluster, Connection, Timeouts, module, one_line
from conveyor.kube.errors import ClusterError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
IN_CLUSTER = "in-cluster"


@dataclass(frozen=True)
class ClusterAccess:
    """What connecting needs from the settings: a `--kubeconfig` given to the task, KUBECONFIG, the home
    directory (for ~/.kube/config) and the in-cluster variables (KUBERNETES_SERVICE_HOST/PORT)."""

    kubeconfig: str = ""
    env_kubeconfig: str = ""
    home: Path | None = None
    in_cluster: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContextEntry:
    """One context of the kubeconfig: its name, the server it reaches, the user it authenticates as, and
    its namespace ("" when it names none)."""

    name: str
    server: str
    user: str
    namespace: str = ""


def connect(
    access: ClusterAccess,
    context: str = "",
    namespace: str = "",
    verify: bool = True,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    interactive: bool = True,
) -> Cluster:
    """The cluster `access` configures, in `context` (else the current one) and `namespace` (else the
    context's); with `verify`, the API server and the namespace are asked first. Not `interactive`: an
    exec credential plugin gets no stdin and at most `timeouts.read` seconds."""
    return load_cluster(
        kubeconfig=access.kubeconfig or None,
        env_kubeconfig=access.env_kubeconfig or None,
        namespace=namespace or None,
        context=context or None,
        home=access.home,
        environ=access.in_cluster,
        timeouts=timeouts,
        verify=verify,
        interactive=interactive,
    )


def contexts(access: ClusterAccess) -> tuple[list[ContextEntry], str]:
    """Every context the configuration has, with its server and user, and the current one (in-cluster: one,
    named `in-cluster`), without connecting. Raises ClusterError when there is no configuration."""
    source = choose_config(access.kubeconfig, access.env_kubeconfig, access.home, access.in_cluster)
    if source.origin == IN_CLUSTER:
        host = access.in_cluster.get("KUBERNETES_SERVICE_HOST", "")
        return [ContextEntry(IN_CLUSTER, host, "the service account")], IN_CLUSTER
    kube_config = module("kubernetes.config.kube_config")
    where = f"{source.kubeconfig} ({source.origin})"
    found, current, merged = _read_contexts(kube_config, where, source.kubeconfig)
    servers = _named(merged, "clusters", "cluster")
    entries = []
    for name, entry in found.items():
        context = entry.get("context") or {}
        server = str((servers.get(str(context.get("cluster", ""))) or {}).get("server", ""))
        entries.append(ContextEntry(name, server, str(context.get("user", "")), str(context.get("namespace") or "")))
    return entries, current


def _named(merged: Any, kind: str, field_name: str) -> dict[str, Any]:
    """name -> the entry's body, for a kubeconfig list (`clusters`, `users`)."""
    items = [getattr(item, "value", item) for item in merged.value.get(kind) or []]
    return {str(item.get("name")): getattr(item.get(field_name), "value", item.get(field_name)) for item in items}


EXEC_WRAPPER = 'limit=$1; shift; exec timeout "$limit" "$@" </dev/null'


def _without_stdin(merged: Any, user: str, seconds: float) -> None:
    """Make `user`'s exec credential plugin run without stdin and within `seconds` (kubectl's
    interactiveMode Never): the client's loader runs the command it names, so the command becomes `sh -c`
    around coreutils' timeout, with stdin from /dev/null."""
    for item in merged.value.get("users") or []:
        entry = getattr(item, "value", item)
        if str(entry.get("name")) != user:
            continue
        body = getattr(entry.get("user"), "value", entry.get("user")) or {}
        plugin = getattr(body.get("exec"), "value", body.get("exec"))
        if not plugin or not plugin.get("command"):
            return
        args = [str(arg) for arg in plugin.get("args") or []]
        plugin["args"] = ["-c", EXEC_WRAPPER, "sh", str(max(1, int(seconds))), str(plugin["command"]), *args]
        plugin["command"] = "/bin/sh"


@dataclass(frozen=True)
class ConfigSource:
    """The first configuration that applies: an explicit path, KUBECONFIG, ~/.kube/config, or in-cluster."""

    kubeconfig: str = ""  # empty: in-cluster
    origin: str = ""


def choose_config(
    kubeconfig: str | None, env_kubeconfig: str | None, home: Path | None, environ: Mapping[str, str]
) -> ConfigSource:
    """Pure precedence: `--kubeconfig`, then KUBECONFIG (as the caller read it), then ~/.kube/config, then
    in-cluster (when the service-account environment is present)."""
    if kubeconfig:
        return ConfigSource(kubeconfig, "--kubeconfig")
    if env_kubeconfig:
        return ConfigSource(env_kubeconfig, "KUBECONFIG")
    if home is not None and (home / ".kube" / "config").is_file():
        return ConfigSource(str(home / ".kube" / "config"), "~/.kube/config")
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return ConfigSource("", IN_CLUSTER)
    raise ClusterError(
        "no Kubernetes configuration found",
        "pass --kubeconfig, set KUBECONFIG, create ~/.kube/config, or run inside a cluster",
    )


CONTEXT_HINT = "name one: KUBE_CONTEXT, --context, or the environment's context in conveyor.environments"


def choose_context(contexts: Sequence[str], current: str, wanted: str, where: str) -> str:
    """The kubeconfig context to use: `wanted` (KUBE_CONTEXT, --context, the environment's), else the
    kubeconfig's current-context. GitLab's agent writes one context per agent and no current-context, so
    without a name there is none to take: say which contexts exist, as for a name that is not among them."""
    if not contexts:
        raise ClusterError(f"cannot load the kubeconfig {where}: it has no contexts", "check the file")
    listed = ", ".join(contexts)
    if wanted:
        if wanted not in contexts:
            raise ClusterError(
                f'context "{wanted}" is not in the kubeconfig {where}; its contexts: {listed}', CONTEXT_HINT
            )
        return wanted
    if not current:
        raise ClusterError(
            f"the kubeconfig {where} has no current-context and no context was named; its contexts: {listed}",
            CONTEXT_HINT,
        )
    if current not in contexts:
        raise ClusterError(
            f'the current-context "{current}" of the kubeconfig {where} is not among its contexts: {listed}',
            CONTEXT_HINT,
        )
    return current


def _load_kubeconfig(
    source: ConfigSource, context: str | None, interactive: bool = True, seconds: float = 30.0
) -> tuple[Any, str, str]:
    """(client configuration, context name, context namespace) from a kubeconfig file (list, merged as
    kubectl merges it); not `interactive`: an exec plugin runs without stdin, within `seconds`."""
    paths = [p for p in source.kubeconfig.split(os.pathsep) if p]
    if not any(Path(p).expanduser().is_file() for p in paths):
        raise ClusterError(
            f"the kubeconfig {source.kubeconfig} ({source.origin}) does not exist",
            "pass the path of an existing kubeconfig file",
        )
    kube_config = module("kubernetes.config.kube_config")
    where = f"{source.kubeconfig} ({source.origin})"
    contexts, current, merged = _read_contexts(kube_config, where, source.kubeconfig)
    name = choose_context(list(contexts), current, context or "", where)
    if not interactive:
        _without_stdin(merged, str((contexts[name].get("context") or {}).get("user", "")), seconds)
    configuration = module("kubernetes.client").Configuration()
    try:
        loader = kube_config.KubeConfigLoader(config_dict=merged, active_context=name, config_base_path=None)
        loader.load_and_set(configuration)
    except Exception as exc:  # the loader raises ConfigException, OSError, TypeError...
        raise ClusterError(
            f"cannot load context {name} of the kubeconfig {where}: {one_line(exc)}",
            "check the context's cluster and user entries",
        ) from None
    return configuration, name, str((contexts[name].get("context") or {}).get("namespace") or "")


def _read_contexts(kube_config: Any, where: str, kubeconfig: str) -> tuple[dict[str, Any], str, Any]:
    """The merged kubeconfig's contexts (name -> entry), its current-context, and the merged config, as
    kubectl merges a list of files: the first to name a context, cluster or user, or to set
    current-context, wins."""
    try:
        merger = kube_config.KubeConfigMerger(kubeconfig)
        merged = merger.config
        entries = [getattr(entry, "value", entry) for entry in merged.value.get("contexts") or []]
        contexts = {str(entry["name"]): entry for entry in entries}
        # kubectl: the first file that sets current-context wins (the client's merger keeps the last)
        current = next(
            (str(c["current-context"]) for c in merger.config_files.values() if c.get("current-context")), ""
        )
    except Exception as exc:  # yaml errors, an empty file, entries without names, not a mapping...
        raise ClusterError(f"cannot load the kubeconfig {where}: {one_line(exc)}", "check the file") from None
    return contexts, current, merged


def _load_in_cluster(environ: Mapping[str, str]) -> tuple[Any, str, str]:
    configuration = module("kubernetes.client").Configuration()
    try:
        module("kubernetes.config.incluster_config").InClusterConfigLoader(
            token_filename=str(SERVICE_ACCOUNT_DIR / "token"),
            cert_filename=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
            environ=environ,
        ).load_and_set(configuration)
    except Exception as exc:
        raise ClusterError(f"cannot load the in-cluster configuration: {one_line(exc)}", "pass --kubeconfig") from None
    namespace_file = SERVICE_ACCOUNT_DIR / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else ""
    return configuration, IN_CLUSTER, namespace


def load_cluster(
    kubeconfig: str | None = None,
    env_kubeconfig: str | None = None,
    namespace: str | None = None,
    context: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    verify: bool = True,
    interactive: bool = True,
) -> Cluster:
    """Connect to the cluster the configuration names.

    Precedence: `kubeconfig` (--kubeconfig), then `env_kubeconfig` (KUBECONFIG as the settings read it; a
    list separated by os.pathsep is merged as kubectl does), then `home`/.kube/config, then in-cluster when
    `environ` carries KUBERNETES_SERVICE_HOST/PORT. The context is `context`, else the current one. The
    namespace is `namespace` (KUBE_NAMESPACE), else the context's, else "default" (in-cluster: the service
    account's). With `verify`, the API server is asked for /version and the namespace must exist, so that
    an unreachable cluster or a wrong namespace fails before anything is changed. Raises ClusterError."""
    source = choose_config(kubeconfig, env_kubeconfig, home, environ or {})
    if source.origin == IN_CLUSTER:
        configuration, context_name, context_namespace = _load_in_cluster(environ or {})
    else:
        configuration, context_name, context_namespace = _load_kubeconfig(source, context, interactive, timeouts.read)
    configuration.retries = 1
    connection = Connection(
        context=context_name,
        namespace=namespace or context_namespace or "default",
        server=str(configuration.host),
        source=f"{source.origin} {source.kubeconfig}".strip() if source.kubeconfig else source.origin,
    )
    cluster = Cluster(module("kubernetes.client").ApiClient(configuration), connection, timeouts)
    if verify:
        cluster.verify()
    return cluster
