#!/bin/sh
# The shop's queue worker.
while true; do sleep 3600; done
