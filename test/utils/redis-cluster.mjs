#!/usr/bin/env node
// A local Redis Cluster of 3 masters (no replicas, nothing persisted) for tests, CI and benchmarks.
//
//   node test/utils/redis-cluster.mjs start <dir> [first-port]   prints the seed list for REDIS_CLUSTER_NODES
//   node test/utils/redis-cluster.mjs stop <dir>
//
// Each node runs `redis-server --cluster-enabled yes` on a free port (its cluster bus port, +10000, free too),
// with its pid, log and nodes.conf under <dir>; `redis-cli --cluster create … --cluster-replicas 0` joins them.
// `start` waits until the cluster answers `cluster_state:ok` on every node. Needs redis-server and redis-cli.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MASTERS = 3;

function isFree(port) {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

async function freePorts(from, count) {
  const ports = [];
  for (let port = from; ports.length < count && port < 55535; port++) {
    if ((await isFree(port)) && (await isFree(port + 10000))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports from ${from}`);
  return ports;
}

function cli(port, ...args) {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
}

async function start(dir, firstPort) {
  mkdirSync(dir, { recursive: true });
  if (existsSync(join(dir, 'ports'))) await stop(dir);
  const ports = await freePorts(firstPort, MASTERS);
  for (const port of ports) {
    const node = join(dir, String(port));
    rmSync(node, { recursive: true, force: true });
    mkdirSync(node, { recursive: true });
    const r = spawnSync('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'yes',
      '--cluster-enabled', 'yes', '--cluster-config-file', join(node, 'nodes.conf'), '--cluster-node-timeout', '5000',
      '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
      '--dir', node, '--pidfile', join(node, 'redis.pid'), '--logfile', join(node, 'redis.log'),
    ], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-server on ${port} did not start: ${r.stderr || r.stdout}`);
  }
  writeFileSync(join(dir, 'ports'), ports.join('\n'));
  for (const port of ports) {
    for (let i = 0; cli(port, 'ping').stdout.trim() !== 'PONG'; i++) {
      if (i > 100) throw new Error(`redis-server on ${port} does not answer`);
      await sleep(50);
    }
  }
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
    encoding: 'utf8',
  });
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
  for (let i = 0; !ports.every((p) => cli(p, 'cluster', 'info').stdout.includes('cluster_state:ok')); i++) {
    if (i > 200) throw new Error('the cluster did not reach cluster_state:ok');
    await sleep(50);
  }
  return ports.map((p) => `127.0.0.1:${p}`).join(',');
}

async function stop(dir) {
  const file = join(dir, 'ports');
  if (!existsSync(file)) return;
  for (const port of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const pidFile = join(dir, port, 'redis.pid');
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
    } catch (error) {
      if (error.code !== 'ESRCH') throw error; // already gone
    }
  }
  rmSync(file);
}

const [command, dirArg, portArg] = process.argv.slice(2);
if (!['start', 'stop'].includes(command) || !dirArg) {
  console.error('usage: redis-cluster.mjs start <dir> [first-port] | stop <dir>');
  process.exit(2);
}
const dir = resolve(dirArg);
if (command === 'start') process.stdout.write(`${await start(dir, Number(portArg ?? 7130))}\n`);
else await stop(dir);
