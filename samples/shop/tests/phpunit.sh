#!/bin/sh
# Needs the database stand-in. Writes its results as PHPUnit does with --log-junit: var/junit.xml, relative to
# the working directory, one suite per test class nested in the run's suite.
junit=var/junit.xml
cases=$(mktemp)
tests=0
failures=0
mark=$(cut -d' ' -f1 /proc/uptime)

check() {
    # check CLASS CASE EXPECTED ACTUAL
    now=$(cut -d' ' -f1 /proc/uptime)
    seconds=$(awk "BEGIN { printf \"%.6f\", $now - $mark }")
    mark=$now
    tests=$((tests + 1))
    printf '%s\t<testcase name="%s" class="%s" classname="%s" file="tests/%s.php" assertions="1" time="%s"' \
        "$1" "$2" "$1" "$1" "$1" "$seconds" >> "$cases"
    if [ "$4" = "$3" ]; then
        printf '/>\n' >> "$cases"
        return
    fi
    failures=$((failures + 1))
    message=$(printf "Failed asserting that '%s' matches expected '%s'." "$4" "$3" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g')
    printf '><failure type="PHPUnit\\Framework\\ExpectationFailedException">%s</failure></testcase>\n' "$message" \
        >> "$cases"
    echo "$1::$2: $message"
}

suite() {
    # suite CLASS: the cases of one test class as a nested <testsuite>
    grep "^$1	" "$cases" | cut -f2- > "$cases.$1"
    printf '    <testsuite name="%s" file="tests/%s.php" tests="%s" failures="%s" errors="0" skipped="0">\n' \
        "$1" "$1" "$(wc -l < "$cases.$1")" "$(grep -c '<failure' "$cases.$1")"
    sed 's/^/      /' "$cases.$1"
    echo '    </testsuite>'
    rm -f "$cases.$1"
}

check OrderRepositoryTest testCountsOrders 42 "$(wget -qO- "$DATABASE_URL/orders/count")"
check OrderRepositoryTest testUnknownOrderIsMissing missing "$(wget -qO- "$DATABASE_URL/orders/999" 2>/dev/null || echo missing)"
check ApiTest testAnswersOrders "orders: 3" "$(sh src/api.sh --once)"
check ApiTest testVendorInstalled yes "$([ -s vendor/installed ] && echo yes || echo no)"

mkdir -p "$(dirname "$junit")"
{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<testsuites>'
    printf '  <testsuite name="shop" tests="%s" failures="%s" errors="0" skipped="0">\n' "$tests" "$failures"
    suite OrderRepositoryTest
    suite ApiTest
    echo '  </testsuite>'
    echo '</testsuites>'
} > "$junit"
rm -f "$cases"
if [ "$failures" -gt 0 ]; then
    echo "FAILURES! Tests: $tests, Assertions: $tests, Failures: $failures."
    exit 1
fi
echo "OK ($tests tests, $tests assertions)"
