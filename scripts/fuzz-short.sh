#!/usr/bin/env bash
# fuzz-short.sh: run every Fuzz target in the module briefly (FUZZTIME each,
# default 3s), after its seed corpus has passed as part of go test.
set -euo pipefail
FUZZTIME=${FUZZTIME:-3s}
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
  pkg=./$(dirname "$file")
  echo "fuzz: $pkg $name ($FUZZTIME)"
  if ! go test "$pkg" -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" >/tmp/fuzz-$$.log 2>&1; then
    cat /tmp/fuzz-$$.log
    status=1
  fi
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' . | grep -v '^./vendor/')
rm -f /tmp/fuzz-$$.log
exit $status
