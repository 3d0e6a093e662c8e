#!/bin/sh
# The original cleanup, reproduced for the benchmark: to delete one tag, build a dummy image through the
# Docker daemon, push it under the tag (so that the tag no longer shares a digest with anything), HEAD the
# manifest for its digest, and DELETE by that digest.
#
#   benchmarks/baseline_cleanup.sh REGISTRY REPOSITORY TAG [TOKEN]
#
# The original first fetched a GitLab JWT with curl (TOKEN here; the benchmark's registry has no auth, so
# that request is left out, which only makes the baseline faster).
set -eu
registry=$1
repository=$2
tag=$3
token=${4:-}
image="$registry/$repository:$tag"
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT

printf 'FROM scratch\nLABEL org.example.dummy="%s-%s"\n' "$tag" "$(date +%s%N)" > "$context/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$image" "$context" > /dev/null 2>&1
docker push "$image" > /dev/null

auth=""
if [ -n "$token" ]; then
    auth="Authorization: Bearer $token"
fi
digest=$(curl -sfI -H "${auth:-X-No-Auth: 1}" \
    -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
    "http://$registry/v2/$repository/manifests/$tag" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
[ -n "$digest" ] || { echo "no digest for $image" >&2; exit 1; }
curl -sf -X DELETE -H "${auth:-X-No-Auth: 1}" "http://$registry/v2/$repository/manifests/$digest" > /dev/null
docker rmi "$image" > /dev/null
