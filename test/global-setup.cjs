// Before any test file: a file where each test file's setup (test/setup-env.ts) notes the BullMQ prefix it drew,
// so that test/global-teardown.cjs can remove what is left under those prefixes, and only those.
const { mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

module.exports = async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'zyva-test-prefixes-')), 'prefixes');
  writeFileSync(file, '');
  process.env.ZYVA_TEST_PREFIXES_FILE = file;
};
