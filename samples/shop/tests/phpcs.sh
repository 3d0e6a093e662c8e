#!/bin/sh
# Needs nothing: checks the sources' style.
set -e
for file in src/*.sh; do head -n1 "$file" | grep -q '^#!/bin/sh' || { echo "$file: no shebang"; exit 1; }; done
echo "phpcs: no violations"
