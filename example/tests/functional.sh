#!/bin/sh
# Functional job: talks to the "db" service (a tiny key-value stand-in served over HTTP) across the
# compose network, the way the original setup's functional tests reached MySQL. Writes var/junit.xml.
. /app/tests/junit.sh
db=${DATABASE_URL:-http://db:8080}
status=0

fail() {
    echo "FAIL: $*"
    status=1
}

junit_begin DatabaseTest
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if answer=$(wget -qO- "$db/users/1" 2>/dev/null); then break; fi
    sleep 0.5
done
reachable=$([ -n "$answer" ] && echo yes || echo no)
expect db_reachable yes "$reachable" || fail "$junit_failure (the db at $db, $attempt attempts)"

if expect user_one "Ada Lovelace" "${answer:-nothing}"; then
    echo "OK: user 1 is '$answer' (from $db)"
else
    fail "$junit_failure (from $db/users/1)"
fi

unknown=$(wget -qO- "$db/users/2" 2>/dev/null && echo found || echo "not found")
expect unknown_user "not found" "$unknown" || fail "$junit_failure (user 2 must not exist)"

junit_write var/junit.xml
[ "$status" -eq 0 ] && echo "OK ($junit_tests tests)"
exit $status
