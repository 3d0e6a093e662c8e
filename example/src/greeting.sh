#!/bin/sh
# The example application's "domain code": small shell functions the test jobs exercise.

greet() {
    name=${1:-world}
    echo "Hello, $name!"
}

shout() {
    echo "$1" | tr 'a-z' 'A-Z'
}

count_words() {
    echo "$1" | wc -w | tr -d ' '
}

initials() {
    for word in $1; do
        printf '%s' "$(echo "$word" | cut -c1)"
    done
    echo
}
