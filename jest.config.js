/** Unit specs live next to the code; e2e specs in test/e2e boot AppModule on real Postgres and Redis. */
const transform = { '^.+\\.(t|j)s$': ['@swc/jest'] };
// content-disposition 3 (required by the Bull Board's @fastify/static) ships only ESM: Node 20.19+ loads it
// with require(esm), Jest's CommonJS runtime needs it compiled like our own code.
const transformIgnorePatterns = ['/node_modules/(?!.*content-disposition/dist/)'];

module.exports = {
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      rootDir: 'src',
      testRegex: '.*\\.spec\\.ts$',
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/../test/setup-env.ts'],
    },
    {
      displayName: 'e2e',
      rootDir: 'test',
      testRegex: '.*\\.e2e-spec\\.ts$',
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/setup-env.ts'],
    },
  ],
};
