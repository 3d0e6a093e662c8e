#!/bin/sh
# Needs the database stand-in: reads the order count from it.
set -e
count=$(wget -qO- "$DATABASE_URL/orders/count")
[ "$count" = 42 ] || { echo "expected 42 orders, got '$count'"; exit 1; }
[ "$(sh src/api.sh --once)" = "orders: 3" ] || { echo "api answered wrongly"; exit 1; }
echo "OK (2 tests, 2 assertions)"
