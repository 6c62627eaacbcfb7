#!/usr/bin/env bash
# The whole-tree cleanup, run once when the tree holds still (and harmless to run again): ESLint's
# autofixes first (type-only imports, unused disable comments), then prettier, which also lays out
# whatever the fixes wrote, then ESLint once more to list, with the new line numbers, what only a
# person can fix. Afterwards `npx tsc -p tsconfig.test.json --noEmit` and `npm run build` must pass.
set -euo pipefail
cd "$(dirname "$0")/.."
# --fix exits 1 while findings without a fix remain; the last step lists them.
npx eslint . --fix >/dev/null || true
npx prettier --write . --log-level warn
if ! npx eslint .; then
  echo "format-all: formatted; the findings above have no autofix" >&2
  exit 1
fi
echo "format-all: formatted; no lint findings left"
