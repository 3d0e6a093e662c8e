#!/bin/sh
# Unit tests for src/greeting.sh, reported the way PHPUnit does (including its coverage summary line).
. /app/src/greeting.sh
passed=0
failed=0
covered=""

check() {
    # check FUNCTION EXPECTED ARGS...
    fn=$1; expected=$2; shift 2
    actual=$("$fn" "$@")
    case " $covered " in *" $fn "*) ;; *) covered="$covered $fn" ;; esac
    if [ "$actual" = "$expected" ]; then
        passed=$((passed + 1)); printf '.'
    else
        failed=$((failed + 1)); printf 'F'
        echo; echo "FAIL: $fn $*: expected '$expected', got '$actual'"
    fi
}

check greet "Hello, world!"
check greet "Hello, Ada!" Ada
check shout "HELLO" hello
check count_words 3 "one two three"
echo

total=$(grep -c '^[a-z_]*() {' /app/src/greeting.sh)
hit=$(echo $covered | wc -w)
percent=$(awk "BEGIN { printf \"%.2f\", 100 * $hit / $total }")
echo
echo "Code Coverage Report:"
echo "  Summary:"
echo "  Lines: ${percent}% (${hit}/${total})"
echo
if [ "$failed" -gt 0 ]; then
    echo "FAILURES! Tests: $((passed + failed)), Failures: $failed."
    exit 1
fi
echo "OK ($passed tests)"
