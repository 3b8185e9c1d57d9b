#!/bin/sh
# Part of step 2 of docker/luajit.Dockerfile (called by build-luajit.sh between
# getting LuaJIT's source and building it): apply ljprof's fixes to Tarantool's
# fork, docker/patches/<name>.patch, and record what happened to each.
# Usage: apply-fixes.sh SOURCE_DIR RECORD_FILE
# Input (build argument): LUAJIT_FIXES, fix names separated by commas, or
# `none` (then nothing is touched: the original Dockerfile's LuaJIT).
# Output: RECORD_FILE, one line per fix: name<TAB>true|false<TAB>why.
#
# A fix whose file is missing from the source (upstream LuaJIT has no memprof)
# is recorded as not applicable; one that is in the source already is recorded
# as not applied; one that does not apply stops the build, naming the fix, the
# file and what to change in profiles.yml.
set -eu
src=$1
record=$2
: > "$record"
record=$(cd "$(dirname "$record")" && pwd)/$(basename "$record")
patches=$(cd "$(dirname "$0")" && pwd)/patches

fixes=$(printf '%s' "${LUAJIT_FIXES:-none}" | tr ',' ' ')
if [ "$fixes" = none ]; then
  echo "apply-fixes.sh: no ljprof fixes asked for (luajit.fixes: none): LuaJIT is built as fetched"
  exit 0
fi

header() {  # header FIELD PATCH: the value of "FIELD: value" in the patch's preamble
  sed -n "s/^$1: //p;/^diff --git /q" "$2" | head -n 1
}

cd "$src"
for name in $fixes; do
  patch="$patches/$name.patch"
  if [ ! -f "$patch" ]; then
    echo "apply-fixes.sh: there is no ljprof fix '$name' (no $patch)" >&2
    echo "  known fixes: $(for p in "$patches"/*.patch; do basename "$p" .patch; done | tr '\n' ' ')" >&2
    exit 2
  fi
  summary=$(header Summary "$patch")
  applies_to=$(header Applies-to "$patch")
  files=$(sed -n 's|^+++ b/||p' "$patch")

  missing=""
  for file in $files; do
    [ -f "$file" ] || missing="$missing $file"
  done
  if [ -n "$missing" ]; then
    why="not applicable: this LuaJIT has no${missing} (the fix is for ${applies_to})"
    echo "apply-fixes.sh: $name: $why"
    printf '%s\tfalse\t%s\n' "$name" "$why" >> "$record"
    continue
  fi

  if git apply --check "$patch" 2>/dev/null; then
    git apply "$patch"
    echo "apply-fixes.sh: $name: applied to $(printf '%s\n' "$files" | paste -sd, -): $summary"
    printf '%s\ttrue\t%s\n' "$name" "$summary" >> "$record"
  elif git apply --check --reverse "$patch" 2>/dev/null; then
    why="not applied: this source has the change already"
    echo "apply-fixes.sh: $name: $why"
    printf '%s\tfalse\t%s\n' "$name" "$why" >> "$record"
  else
    # What git says first, then the plain message: the build error shows the
    # last lines of this step's output.
    git apply --check "$patch" >&2 || true
    file_list=$(printf '%s\n' "$files" | paste -sd, - | sed 's/,/, /g')
    {
      echo "ljprof fix '$name' does not apply to this LuaJIT source: $file_list differs from the"
      echo "  source the fix was written for, $(header Written-for "$patch") (docker/patches/$name.patch)."
      echo "  hint: leave '$name' out of 'luajit.fixes' of this recipe in profiles.yml"
      echo "  (list the others, or write 'fixes: none' to build the source as fetched)"
    } >&2
    exit 3
  fi
done
