#!/bin/sh
# Lint job: every shell file must parse (sh -n). Needs no service, so it runs with --no-deps.
status=0
for file in /app/src/*.sh /app/tests/*.sh; do
    if sh -n "$file"; then echo "ok   $file"; else echo "FAIL $file"; status=1; fi
done
exit $status
