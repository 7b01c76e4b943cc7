import { defineConfig } from "vitest/config";

// The e2e suite (npm run test:e2e): simulated days over Debian's mosquitto,
// which the tests start themselves. A day takes 15-60 s of real time, all of
// it in a beforeAll.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    testTimeout: 60000,
    hookTimeout: 300000,
  },
});
