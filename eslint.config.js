// Lint settings. The Espruino 2v29 subset (tools/build/subset.ts) applies to
// device code: firmware/, protocol/ and hal/ except the simulated backend,
// and the checks in tools/device/*.device.ts that run on the interpreter.
// Tests and tools run on Node and may use all of modern JavaScript.

import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";
import { tsImport } from "tsx/esm/api";

// The subset is written in TypeScript once; tsx loads it here without a build step.
const { espruinoPlugin, deviceRules } = await tsImport("./tools/build/eslint-espruino.ts", import.meta.url);

const CODE = "**/*.{ts,mts,cts,js,mjs,cjs}";

export default defineConfig([
  globalIgnores(["build/", "node_modules/", "coverage/", "out/"]),
  { files: [CODE], extends: [js.configs.recommended, tseslint.configs.recommended] },
  {
    files: ["tools/**", "test/**", "*.config.{js,ts}"],
    languageOptions: { globals: globals.node },
    // Tools and tests check bytes; a control character in their patterns is meant.
    rules: { "no-control-regex": "off" },
  },
  {
    files: ["firmware/**", "protocol/**", "hal/**", "tools/device/*.device.ts"],
    plugins: { espruino: espruinoPlugin },
  },
  {
    // tools/device/*.device.ts are bundled and run on the interpreter by npm run test:device.
    name: "espruino/firmware-protocol",
    files: ["firmware/**", "protocol/**", "tools/device/*.device.ts"],
    rules: deviceRules({ espruinoGlobals: false, date: false }),
  },
  {
    name: "espruino/hal",
    files: ["hal/**"],
    ignores: ["hal/sim/**", "hal/espruino/**"],
    rules: deviceRules({ espruinoGlobals: false, date: true }),
  },
  {
    name: "espruino/hal-espruino",
    files: ["hal/espruino/**"],
    rules: {
      ...deviceRules({ espruinoGlobals: true, date: true }),
      // Espruino's require() loads the interpreter's built-in modules
      // ("Storage", "net"); it is not a CommonJS import.
      "@typescript-eslint/no-require-imports": "off",
    },
  },
]);
