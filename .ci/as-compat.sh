#!/usr/bin/env bash
# AssemblyScript compatibility: builds every example with the newest release of each supported
# AssemblyScript series (default: 0.27 and 0.28, the range package.json's peerDependencies allow)
# through `proxy-wasm-as build`, then runs the example tests against that compiler.
#
# Nothing in the repository changes: each series gets a scratch copy of the sources (the files git
# tracks or would track) whose node_modules links to the repository's, except assemblyscript, which
# points to its own install from the npm registry. package.json, package-lock.json and node_modules
# stay as they are.
#
#   .ci/as-compat.sh              # 0.27 and 0.28 (a series whose newest release is the installed one is skipped: npm test covers it)
#   .ci/as-compat.sh 0.27         # one series
#   AS_COMPAT_ALL=1 .ci/as-compat.sh   # never skip
#   AS_COMPAT_KEEP=1 ...          # keep the scratch directories (printed) for a look afterwards
#
# Exit status: 0 when every build and test passed, 1 otherwise; a summary line per series at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SERIES=("$@")
[ ${#SERIES[@]} -eq 0 ] && SERIES=(0.27 0.28)

if [ ! -d node_modules ] || [ ! -f node_modules/typescript/package.json ]; then
  echo "as-compat: run npm ci first (the scratch copies reuse node_modules)" >&2
  exit 2
fi
installed=$(node -p "require('./node_modules/assemblyscript/package.json').version")
SOAK_REQUESTS=${SOAK_REQUESTS:-2000}
export SOAK_REQUESTS

summary=()
failed=0
scratch_dirs=()
cleanup() {
  if [ -z "${AS_COMPAT_KEEP:-}" ]; then
    for d in "${scratch_dirs[@]}"; do rm -rf "$d"; done
  fi
}
trap cleanup EXIT

for series in "${SERIES[@]}"; do
  started=$(date +%s)
  work=$(mktemp -d "${TMPDIR:-/tmp}/as-compat-$series.XXXXXX")
  scratch_dirs+=("$work")
  echo "== AssemblyScript $series.x (scratch: $work)"

  # 1. The newest release of the series, in its own prefix.
  mkdir -p "$work/compiler"
  echo '{ "name": "as-compat-compiler", "private": true }' >"$work/compiler/package.json"
  if ! (cd "$work/compiler" && npm install --no-audit --no-fund --no-package-lock --loglevel=error "assemblyscript@~$series.0" >"$work/npm.log" 2>&1); then
    cat "$work/npm.log" >&2
    summary+=("AssemblyScript $series.x: FAILED to install from the npm registry")
    failed=1
    continue
  fi
  version=$(node -p "require('$work/compiler/node_modules/assemblyscript/package.json').version")
  if [ "$version" = "$installed" ] && [ -z "${AS_COMPAT_ALL:-}" ] && [ "${#SERIES[@]}" -gt 1 ]; then
    echo "   $version is the installed compiler: npm test already builds and tests with it; skipped"
    summary+=("AssemblyScript $version: skipped (the installed compiler; covered by npm test)")
    continue
  fi
  echo "   compiler: assemblyscript $version"

  # 2. A scratch copy of the sources, with node_modules linking to the repository's.
  mkdir -p "$work/repo/node_modules"
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/repo"
  for entry in node_modules/* node_modules/.bin; do
    [ -e "$entry" ] || continue
    name=${entry#node_modules/}
    [ "$name" = assemblyscript ] && continue
    ln -s "$ROOT/$entry" "$work/repo/node_modules/$name"
  done
  ln -s "$work/compiler/node_modules/assemblyscript" "$work/repo/node_modules/assemblyscript"
  # The tests read Istio's schemas from shared/ beside the repository: beside the copy too.
  if [ -d "$ROOT/../shared" ]; then ln -s "$(cd "$ROOT/../shared" && pwd)" "$work/shared"; fi
  cd "$work/repo"
  # Type errors against another compiler's typings do not stop the emit; the builds below are the check.
  node node_modules/typescript/bin/tsc -p tsconfig.json >"$work/tsc.log" 2>&1 || echo "   (tsc reported type errors with this compiler's typings: $work/tsc.log)"

  # 3. Every example through the CLI, with this compiler.
  t0=$(date +%s)
  ls examples/*/index.ts | xargs -P "$(nproc)" -I{} sh -c 'name=$(basename "$(dirname "$1")"); if node dist/src/cli.js build "$1" >"$2/build-$name.log" 2>&1; then touch "$2/ok-$name"; fi' _ {} "$work"
  built=0
  broken=()
  for entry in examples/*/index.ts; do
    name=$(basename "$(dirname "$entry")")
    if [ -e "$work/ok-$name" ]; then
      built=$((built + 1))
    else
      broken+=("$name")
      echo "   build of $name FAILED with assemblyscript $version:"
      sed 's/^/     | /' "$work/build-$name.log"
    fi
  done
  echo "   $built examples built in $(($(date +%s) - t0))s"
  t0=$(date +%s)

  # 4. The example tests, building with this compiler (their cache is keyed by compiler version).
  tests=(dist/tests/node/example*.test.js dist/tests/node/host-examples.test.js dist/tests/node/soak-examples.test.js)
  if node --test --test-concurrency=2 --test-reporter=tap "${tests[@]}" >"$work/test.log" 2>&1; then
    test_result="tests passed ($(grep -cE '^# Subtest' "$work/test.log") tests)"
  else
    test_result="tests FAILED"
    failed=1
    grep -A14 -E "^\s*not ok" "$work/test.log" | grep -vE "^\s+at |^\s+(async )?[A-Za-z.<>]+ \(" | head -150 || true
  fi
  echo "   tests ran in $(($(date +%s) - t0))s"
  cd "$ROOT"
  [ ${#broken[@]} -gt 0 ] && failed=1
  elapsed=$(($(date +%s) - started))
  line="AssemblyScript $version: $built/$((built + ${#broken[@]})) examples built"
  [ ${#broken[@]} -gt 0 ] && line+=" (failed: ${broken[*]})"
  summary+=("$line, $test_result (${elapsed}s)")
done

echo
echo "== as-compat summary"
for s in "${summary[@]}"; do echo "   $s"; done
exit $failed
