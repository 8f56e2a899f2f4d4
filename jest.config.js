/** Unit specs live next to the code; e2e specs in test/e2e boot AppModule on real Postgres and Redis. */
const transform = { '^.+\\.(t|j)s$': ['@swc/jest'] };

module.exports = {
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/global-setup.cjs',
  globalTeardown: '<rootDir>/test/global-teardown.cjs',
  projects: [
    {
      displayName: 'unit',
      rootDir: 'src',
      testRegex: '.*\\.spec\\.ts$',
      transform,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/../test/setup-env.ts'],
    },
    {
      displayName: 'e2e',
      rootDir: 'test',
      testRegex: '.*\\.e2e-spec\\.ts$',
      transform,
      testEnvironment: 'node',
      setupFiles: ['<rootDir>/setup-env.ts'],
    },
  ],
};
