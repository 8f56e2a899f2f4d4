#!/usr/bin/env bash
# Proves the README's run command on a scratch clone of the commit being tested: `npm install && npm run dev`
# with no DATABASE_URL (the embedded Postgres path), until GET /health answers 200; then stops it and all it
# started. Ports are picked free, so neither the machine's Postgres (5432), a developer's embedded one (54329),
# nor the machine's Redis is touched.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/zyva-scratch.XXXXXX)"
# Postgres refuses to run as root: the embedded one then runs as a dedicated user, who must reach its data.
chmod 755 "$work"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
api_port="$(free_port)"; pg_port="$(free_port)"; redis_port="$(free_port)"
log="$work/dev.log"
pid=""

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # The whole process group: npm, the dev script, nest's watcher, the app, embedded Postgres, redis-server.
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$repo" "$work/repo"
git -C "$work/repo" checkout --quiet "$(git -C "$repo" rev-parse HEAD)"
cd "$work/repo"
echo "scratch clone: npm install && npm run dev (API :$api_port, embedded Postgres :$pg_port, redis-server :$redis_port)"
setsid env -u DATABASE_URL PORT="$api_port" DEV_POSTGRES_PORT="$pg_port" REDIS_URL="redis://127.0.0.1:$redis_port" \
  bash -c 'npm install --no-audit --no-fund && npm run dev' </dev/null >"$log" 2>&1 &
pid=$!

deadline=$((SECONDS + 420))
until curl -fsS "http://127.0.0.1:$api_port/health" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    echo "✖ npm run dev did not answer GET /health with 200; its output:"; tail -n 80 "$log"; exit 1
  fi
  sleep 2
done
echo "✔ scratch clone: GET /health answered 200 after ${SECONDS}s"
grep -E "EBADENGINE|ERESOLVE" "$log" | sort -u || true
