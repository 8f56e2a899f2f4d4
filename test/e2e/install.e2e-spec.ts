import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';

/**
 * What a fresh clone installs, read from the lock file that `npm ci` and
 * `npm install` both follow. (.ci/run also runs the README's commands on a
 * scratch clone; these checks say precisely which package broke a rule.)
 */
const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
interface LockEntry {
  version?: string;
  resolved?: string;
  engines?: { node?: string } | string[];
  hasInstallScript?: boolean;
  link?: boolean;
  name?: string;
}
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
const installed = Object.entries(lock.packages)
  .filter(([path, entry]) => path !== '' && !entry.link)
  .map(([path, entry]) => ({ ...entry, name: entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length) }));

/**
 * Prisma 7.10.x pins @prisma/dev, which pins @prisma/streams-local; every
 * published version of that one says Node >= 22. It serves only `prisma dev`
 * (a local Prisma Postgres), which Zyva never runs.
 */
const ENGINE_EXCEPTIONS = new Set(['@prisma/streams-local']);

describe('the dependency set of a fresh clone', () => {
  it('declares Node 20.19+, 22.12+ and 24, and every dependency accepts that whole range', () => {
    for (const node of ['20.19.0', '22.12.0', '24.0.0']) expect(semver.satisfies(node, pkg.engines.node)).toBe(true);
    const refusing = installed
      .filter((p) => p.engines && !Array.isArray(p.engines) && p.engines.node && !ENGINE_EXCEPTIONS.has(p.name))
      .filter((p) => !semver.subset(pkg.engines.node, (p.engines as { node: string }).node))
      .map((p) => `${p.name}@${p.version} wants node ${(p.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });

  it('keeps NestJS 11, one Bull Board version and no unused Bull Board Nest module', () => {
    const versions = (prefix: string) => new Set(installed.filter((p) => p.name.startsWith(prefix)).map((p) => p.version));
    expect([...versions('@nestjs/core')].every((v) => semver.major(v!) === 11)).toBe(true);
    expect(versions('@bull-board/').size).toBe(1);
    expect(installed.some((p) => p.name === '@bull-board/nestjs')).toBe(false);
  });

  it('runs exactly the install scripts it approved, each pinned to a version the lock resolves', () => {
    const approved = Object.entries(pkg.allowScripts).filter(([, allowed]) => allowed).map(([key]) => key);
    for (const key of approved) {
      const at = key.lastIndexOf('@');
      const [name, version] = [key.slice(0, at), key.slice(at + 1)];
      expect(semver.valid(version)).toBe(version);
      // npm verifies a pinned approval against the lock's resolved URL: without it the script is refused.
      const entry = installed.find((p) => p.name === name && p.version === version);
      expect(entry?.resolved).toMatch(new RegExp(`/-/${name.split('/').pop()}-${version.replace(/\./g, '\\.')}\\.tgz$`));
    }
    const reviewed = (name: string, version?: string) =>
      pkg.allowScripts[name] !== undefined || pkg.allowScripts[`${name}@${version}`] !== undefined;
    const unreviewed = installed.filter((p) => p.hasInstallScript && !reviewed(p.name, p.version)).map((p) => `${p.name}@${p.version}`);
    expect(unreviewed).toEqual([]);
  });
});
