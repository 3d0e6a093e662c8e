#!/bin/sh
# The example's web entry point: serves a greeting page with busybox httpd.
. /app/src/greeting.sh
mkdir -p /srv/www
greet "${APP_NAME:-Conveyor}" > /srv/www/index.html
exec httpd -f -p "${PORT:-8080}" -h /srv/www
