#!/bin/sh
# Unit tests for src/greeting.sh, reported the way PHPUnit does: its coverage summary line, a JUnit file
# (var/junit.xml) and a Cobertura coverage file (var/coverage.xml), relative to the working directory.
. /app/src/greeting.sh
. /app/tests/junit.sh
source_file=/app/src/greeting.sh
passed=0
failed=0
called=""

check() {
    # check CASE FUNCTION EXPECTED ARGS...
    case_name=$1; fn=$2; expected=$3; shift 3
    actual=$("$fn" "$@")
    called="$called $fn"
    if expect "$case_name" "$expected" "$actual"; then
        passed=$((passed + 1)); printf '.'
    else
        failed=$((failed + 1)); printf 'F'
        echo; echo "FAIL: $junit_failure ($fn $*)"
    fi
}

hits() {
    # how often the tests called function $1
    echo "$called" | tr ' ' '\n' | grep -cx "$1"
}

write_cobertura() {
    # write_cobertura FILE: one "line" per function definition, hit when a test called the function
    lines=$(grep -n '^[a-z_]*() {' "$source_file" | sed 's/() {$//')
    total=$(echo "$lines" | wc -l)
    hit=0
    for entry in $lines; do [ "$(hits "${entry#*:}")" -gt 0 ] && hit=$((hit + 1)); done
    rate=$(awk "BEGIN { printf \"%.4f\", $hit / $total }")
    mkdir -p "$(dirname "$1")"
    {
        echo '<?xml version="1.0" encoding="UTF-8"?>'
        printf '<coverage line-rate="%s" branch-rate="0" lines-covered="%s" lines-valid="%s" ' "$rate" "$hit" "$total"
        printf 'branches-covered="0" branches-valid="0" complexity="0" version="example" timestamp="%s">\n' "$(date +%s)"
        echo '  <sources><source>/app</source></sources>'
        printf '  <packages><package name="src" line-rate="%s" branch-rate="0" complexity="0"><classes>\n' "$rate"
        printf '    <class name="greeting" filename="src/greeting.sh" line-rate="%s" branch-rate="0" complexity="0">\n' "$rate"
        echo '      <methods/>'
        echo '      <lines>'
        for entry in $lines; do
            printf '        <line number="%s" hits="%s"/>\n' "${entry%%:*}" "$(hits "${entry#*:}")"
        done
        echo '      </lines>'
        echo '    </class>'
        echo '  </classes></package></packages>'
        echo '</coverage>'
    } > "$1"
}

junit_begin GreetingTest
check greet_default greet "Hello, world!"
check greet_name greet "Hello, Ada!" Ada
check shout shout "HELLO" hello
check shout_mixed shout "ABC-1" aBc-1
check count_words count_words 3 "one two three"
check count_words_empty count_words 0 ""
echo
junit_write var/junit.xml
write_cobertura var/coverage.xml

total=$(grep -c '^[a-z_]*() {' "$source_file")
hit=$(for fn in $called; do echo "$fn"; done | sort -u | wc -l)
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
