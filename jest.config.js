/** One Temporal dev server and one fresh Postgres database for the whole run (test/setup). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 60_000,
  // A test that fails halfway through its teardown can leave a native Temporal worker polling;
  // the run must still end (CI has a hard time limit) once every test has finished.
  forceExit: true,
};
