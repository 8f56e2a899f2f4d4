// Runs src/ without a build: `node -r ./bench/pipeline.register.cjs src/main.ts`.
// Compiles each .ts file on require with @swc/core and the project's .swcrc
// (decorator metadata included, which Nest's dependency injection needs).
// Used by bench/pipeline.mjs and by the worker crash e2e test to start real
// worker processes that can be stopped with SIGTERM or killed with SIGKILL.
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..');
const swcrc = JSON.parse(fs.readFileSync(path.join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

require.extensions['.ts'] = function compile(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = swc.transformSync(source, { ...swcrc, filename, swcrc: false, sourceMaps: 'inline' });
  module._compile(code, filename);
};
