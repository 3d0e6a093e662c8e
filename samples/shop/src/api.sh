#!/bin/sh
# The shop's API: answers the number of orders.
orders() { echo "orders: ${1:-0}"; }
[ "${1:-}" = "--once" ] && { orders 3; exit 0; }
while true; do sleep 3600; done
