#!/bin/sh
# Functional job: talks to the "db" service (a tiny key-value stand-in served over HTTP) across the
# compose network, the way the original setup's functional tests reached MySQL.
db=${DATABASE_URL:-http://db:8080}
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if answer=$(wget -qO- "$db/users/1" 2>/dev/null); then break; fi
    sleep 0.5
done
if [ "$answer" = "Ada Lovelace" ]; then
    echo "OK: user 1 is '$answer' (from $db)"
else
    echo "FAIL: expected 'Ada Lovelace' from $db/users/1, got '${answer:-nothing}'"
    exit 1
fi
