#!/bin/sh
# JUnit XML written by hand (busybox has no PHPUnit): sourced by the test scripts.
#   junit_begin SUITE           start recording cases of one suite
#   junit_case NAME [FAILURE]   record a case that took the time since the last mark (failed when FAILURE is set)
#   junit_write FILE            write the suite to FILE (its directory is made), as PHPUnit nests it
# EXAMPLE_FAIL_CASE=NAME makes the check of that case fail on purpose (see expect below).

junit_now() {
    cut -d' ' -f1 /proc/uptime
}

junit_escape() {
    printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}

junit_begin() {
    junit_suite=$1
    junit_cases=$(mktemp)
    junit_tests=0
    junit_failures=0
    junit_total=0
    junit_mark=$(junit_now)
}

junit_case() {
    # junit_case NAME [FAILURE MESSAGE]
    now=$(junit_now)
    seconds=$(awk "BEGIN { printf \"%.3f\", $now - $junit_mark }")
    junit_mark=$now
    junit_total=$(awk "BEGIN { printf \"%.3f\", $junit_total + $seconds }")
    junit_tests=$((junit_tests + 1))
    printf '    <testcase name="%s" classname="%s" time="%s"' "$(junit_escape "$1")" "$junit_suite" "$seconds" \
        >> "$junit_cases"
    if [ -n "${2:-}" ]; then
        junit_failures=$((junit_failures + 1))
        printf '>\n      <failure message="%s">%s</failure>\n    </testcase>\n' \
            "$(junit_escape "$2")" "$(junit_escape "$2")" >> "$junit_cases"
    else
        printf '/>\n' >> "$junit_cases"
    fi
}

junit_write() {
    mkdir -p "$(dirname "$1")"
    {
        echo '<?xml version="1.0" encoding="UTF-8"?>'
        echo '<testsuites>'
        printf '  <testsuite name="%s" tests="%s" failures="%s" errors="0" skipped="0" time="%s">\n' \
            "$junit_suite" "$junit_tests" "$junit_failures" "$junit_total"
        cat "$junit_cases"
        echo '  </testsuite>'
        echo '</testsuites>'
    } > "$1"
    rm -f "$junit_cases"
}

expect() {
    # expect CASE EXPECTED ACTUAL: records the case (a failed one's message in $junit_failure);
    # EXAMPLE_FAIL_CASE=CASE fails it on purpose
    expected=$2
    if [ "$1" = "${EXAMPLE_FAIL_CASE:-}" ]; then expected="$2 (EXAMPLE_FAIL_CASE=$1 makes this case fail)"; fi
    if [ "$3" = "$expected" ]; then
        junit_case "$1"
        return 0
    fi
    junit_failure="$1: expected '$expected', got '$3'"
    junit_case "$1" "$junit_failure"
    return 1
}
