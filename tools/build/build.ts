// npm run build: bundles firmware/main.ts into build/router.js, one
// self-contained, minified, ASCII-only file for the Espruino 2v29
// interpreter; and that file pretokenised, as the board stores it, into
// build/router.bootcde (tools/build/pretokenise.ts). The board's
// configuration is no part of it: the flasher writes that to flash.

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { minify } from "terser";
import { manglePattern, manglePlan, type ManglePlan } from "./mangle";
import { aliasGlobals } from "./global-alias";
import { hoistLateVars } from "./hoist-vars";
import { pretokenise } from "./pretokenise";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** Espruino's own modules, loaded by require() on the board. */
const ESPRUINO_MODULES = ["Storage", "net", "crypto", "tls", "Wifi", "EspruinoWiFi", "Flash"];

export interface BuildResult {
  /** The minified text: what the bundle check reads and Node tests run. */
  file: string;
  bytes: number;
  /** The same program pretokenised: what is flashed as .bootcde. */
  bootFile: string;
  bootBytes: number;
  version: string;
  /** Property names shortened (tools/build/mangle.ts). */
  mangled: number;
  /** Bytes each source file adds to esbuild's output (minified and mangled, before terser), largest first. */
  modules: { file: string; bytes: number }[];
}

/** "0.1.0+abc1234", or "0.1.0+dev" outside a git checkout. */
function firmwareVersion(): string {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  let build = "dev";
  try {
    build = execFileSync("git", ["rev-parse", "--short=7", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    // not a checkout, or no commit yet
  }
  return pkg.version + "+" + build;
}

export interface BuildOptions {
  outFile?: string;
  /** The entry point; firmware/main.ts when not given (tools/device builds its protocol check from another). */
  entryFile?: string;
  /** More compile-time constants, as JSON values. */
  define?: { [name: string]: unknown };
  /** Shorten the firmware's own property names (default true; false tells whether a problem on the board comes from it). */
  mangle?: boolean;
}

// The plan needs a type-checked program (about 2 s): one per entry and process.
const plans = new Map<string, ManglePlan>();

function planFor(entryFile: string): ManglePlan {
  let plan = plans.get(entryFile);
  if (!plan) {
    plan = manglePlan(root, entryFile);
    plans.set(entryFile, plan);
  }
  return plan;
}

/**
 * A second pass over esbuild's output with terser, inside the bundle's
 * wrapper function: it puts the value of every numeric constant where it is
 * used (esbuild keeps a module's exported constants as variables, a JsVar
 * each for good on the board) and drops what is then unused. Measured on
 * 2v29: -320 JsVars in the memory bar's case, -1 KB. Nothing newer than
 * ES2015 comes out (the bundle check holds it to the 2v29 subset).
 */
async function compress(code: string): Promise<string> {
  const r = await minify(code, {
    ecma: 2015,
    compress: { ecma: 2015, passes: 3, unsafe: false, unsafe_arrows: true },
    mangle: true,
    format: { ascii_only: true, ecma: 2015 },
  });
  if (r.code === undefined) throw new Error("terser returned no code");
  return r.code;
}

export async function build(options: BuildOptions = {}): Promise<BuildResult> {
  const outFile = options.outFile ?? join(root, "build/router.js");
  const entryFile = resolve(options.entryFile ?? join(root, "firmware/main.ts"));
  const version = firmwareVersion();
  const result = await esbuild.build({
    entryPoints: [entryFile],
    bundle: true,
    write: false,
    format: "cjs",
    platform: "neutral",
    target: "es2015",
    minify: true,
    charset: "ascii",
    legalComments: "none",
    external: ESPRUINO_MODULES,
    // The bundle's names stay out of Espruino's global scope (D5, E, LED1...).
    // Class fields as plain assignments in the constructor, not esbuild's
    // __publicField/defineProperty helper (which crashed 2v29: ASSERT in jsvar.c).
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    banner: { js: "(function(){" },
    footer: { js: "})();" },
    define: {
      SDEN_VERSION: JSON.stringify(version),
      ...Object.fromEntries(Object.entries(options.define ?? {}).map(([k, v]) => [k, JSON.stringify(v)])),
    },
    // esbuild cannot lower these for 2v29; make it refuse them outright.
    supported: { destructuring: false, "rest-argument": false, "default-argument": false, "exponent-operator": false, "async-await": false, generator: false },
    // Property names are a third of the code: the firmware's own are
    // shortened, every name seen outside the bundle is kept (tools/build/mangle.ts).
    mangleProps: options.mangle === false ? undefined : manglePattern(planFor(entryFile).mangle),
    // Asked for only to count the names shortened.
    mangleCache: {},
    metafile: true,
    logLevel: "silent",
  });
  // Built-ins the bundle names often as locals (tools/build/global-alias.ts), then terser.
  // terser's late `var`s moved up, which 2v29 does not hoist (tools/build/hoist-vars.ts).
  const code = hoistLateVars(await compress(aliasGlobals(result.outputFiles[0].text).code));
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, code, "latin1");
  const boot = pretokenise(code);
  const bootFile = outFile.replace(/\.js$/, "") + ".bootcde";
  writeFileSync(bootFile, boot);
  const inputs = Object.values(result.metafile.outputs)[0].inputs;
  const modules = Object.keys(inputs)
    .map((file) => ({ file, bytes: inputs[file].bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { file: outFile, bytes: code.length, bootFile, bootBytes: boot.length, version, mangled: Object.keys(result.mangleCache ?? {}).length, modules };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  build().then(
    (r) => {
      console.log(`${r.file.replace(root + "/", "")}: ${r.bytes} bytes, firmware ${r.version}, ${r.mangled} property names shortened`);
      console.log(`${r.bootFile.replace(root + "/", "")}: ${r.bootBytes} bytes pretokenised, as flashed`);
      // npm run build -- --sizes: what each source file costs, to know where bytes go.
      if (process.argv.includes("--sizes")) for (const m of r.modules) console.log(`${String(m.bytes).padStart(7)}  ${m.file}`);
    },
    (e: Error & { errors?: esbuild.Message[] }) => {
      if (e.errors) for (const m of e.errors) console.error(`${m.location?.file}:${m.location?.line}: ${m.text}`);
      else console.error(e.message);
      process.exit(1);
    },
  );
}
