import { ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

/** The project root: every process a test starts runs there. */
export const ROOT = path.resolve(__dirname, '../..');

type Env = Record<string, string | undefined>;

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node` arguments that run a source entry point without a build (swc, decorator metadata included), as `npm run` does in a checkout. */
export const fromSource = (entry: string, ...args: string[]): string[] => ['-r', './bench/pipeline.register.cjs', entry, ...args];

/** Runs `command <args>` in the project root with this process' environment plus `env`; resolves with its exit code and output. */
export function runCommand(command: string, args: string[], env: Env = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs `node <args>` as runCommand does. */
export const runNode = (args: string[], env: Env = {}): Promise<Finished> => runCommand(process.execPath, args, env);

export interface ZyvaProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A real Zyva process (`src/main.ts` through the swc hook, as production runs
 * `dist/main.js`) with this process' environment plus `env`, so that a test
 * can stop it with SIGTERM or kill it with SIGKILL. Its stderr goes to the test's.
 */
export function spawnZyva(env: Env, stdio: StdioOptions = ['ignore', 'ignore', 'inherit']): ZyvaProcess {
  const child = spawn(process.execPath, fromSource('src/main.ts'), { cwd: ROOT, env: { ...process.env, ...env }, stdio });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited };
}

/** Stops a process with SIGTERM and waits for it to exit (at once if it already has). */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A TCP port free on 127.0.0.1 right now, for a process a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
