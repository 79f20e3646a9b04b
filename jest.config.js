/** @type {import('jest').Config} */
const esm = {
  extensionsToTreatAsEsm: ['.ts'],
  setupFiles: ['reflect-metadata'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.jest.json' }] },
};

/** @type {import('jest').Config} */
export default {
  // Integration tests wait on real controllers (namespace deletion takes seconds).
  testTimeout: 180_000,
  projects: [
    {
      ...esm,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      ...esm,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/env/global-setup.ts',
      globalTeardown: '<rootDir>/test/env/global-teardown.ts',
    },
  ],
};
