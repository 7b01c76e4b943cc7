// The generated standard library (tools/build/device-lib.ts) makes the
// built-ins that Espruino 2v29 lacks into type errors in device code, and
// keeps the ones it has.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { buildDeviceLib } from "../../tools/build/device-lib";
import { missingGlobals, missingProperties } from "../../tools/build/subset";

const root = fileURLToPath(new URL("../..", import.meta.url));
const libText = buildDeviceLib();

/** The compiler options of tsconfig.device.json, as `tsc -p` would read them. */
function deviceOptions(): ts.CompilerOptions {
  const configPath = join(root, "tsconfig.device.json");
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath).options;
}

/**
 * Type-checks each snippet as its own module of device code, all in one
 * program with the generated lib; returns the error messages per snippet,
 * and under "lib" any error in the generated lib itself.
 */
function typeCheck(snippets: readonly string[]): { lib: string[]; snippets: string[][] } {
  const options = deviceOptions();
  const dir = join(root, "firmware", "__device_lib_test__");
  const files = new Map<string, string>([[join(dir, "espruino-lib.d.ts"), libText]]);
  snippets.forEach((code, i) => files.set(join(dir, `snippet${i}.ts`), `${code}\nexport {};\n`));
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (f) => files.has(f) || ts.sys.fileExists(f);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.getSourceFile = (f, language) => {
    const text = files.get(f);
    return text !== undefined ? ts.createSourceFile(f, text, language) : getSourceFile(f, language);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const messagesOf = (f: string): string[] => {
    const sourceFile = program.getSourceFile(f);
    return [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)].map((d) =>
      ts.flattenDiagnosticMessageText(d.messageText, "\n"),
    );
  };
  const names = [...files.keys()];
  return { lib: [...program.getGlobalDiagnostics().map((d) => String(d.messageText)), ...messagesOf(names[0])], snippets: names.slice(1).map(messagesOf) };
}

// Each snippet with the error it must fail for (not some unrelated one).
const mustFail: readonly [code: string, error: RegExp][] = [
  ["export const m = new Map();", /Cannot find name 'Map'/],
  ["export const s = Symbol();", /'typeof Symbol' is not callable/],
  ["export const t = Math.trunc(1);", /'trunc' does not exist on type 'Math'/],
  ["export const f = Object.freeze({});", /'freeze' does not exist on type 'ObjectConstructor'/],
  ["export const a = Array.from([]);", /'from' does not exist on type 'ArrayConstructor'/],
  ["export const i = Number.isInteger(1);", /'isInteger' does not exist on type 'NumberConstructor'/],
  ["export const set = new Set<number>();", /Cannot find name 'Set'/],
  ["export const w = new WeakMap<object, number>();", /Cannot find name 'WeakMap'/],
  ["export const sym = new Symbol();", /Constructor of class 'Symbol' is private/],
  ["export const it = Symbol.iterator;", /Property 'iterator' is private/],
  ["export const e = new TextEncoder();", /Cannot find name 'TextEncoder'/],
  ["export const u = Uint8Array.from([1]);", /'from' does not exist on type 'Uint8ArrayConstructor'/],
  ["export const v = ArrayBuffer.isView(new Uint8Array(1));", /'isView' does not exist on type 'ArrayBufferConstructor'/],
  ["export const n = Number.isFinite(1);", /'isFinite' does not exist on type 'NumberConstructor'/],
  ["export const p = Math.imul(2, 3);", /'imul' does not exist on type 'Math'/],
  // Measured: a typed array's slice() returns a plain Array on 2v29.
  ["export const c = new Uint8Array(4).slice(1);", /'slice' does not exist on type 'Uint8Array/],
  ["export const c = new Int32Array(4).slice(1);", /'slice' does not exist on type 'Int32Array/],
  // Only arrays and typed arrays are iterable here (espruino.md: for...of over arrays).
  ["export function s(): number { let n = 0; for (const c of 'abc') n += c.length; return n; }", /must have a '\[Symbol.iterator\]\(\)' method/],
];

const mustPass: readonly string[] = [
  "export const c = new Uint8Array(4).subarray(1);",
  "export const a = [1, 2].slice(1);",
  "export const a = new Uint8Array(4);",
  "export const o = Object.assign({}, {});",
  "export const b = [1].includes(1);",
  'export const s = "a".padStart(2);',
  "export const f = [1].find((x) => x > 0);",
  "export const p = Promise.resolve(1);",
  "export const v = new DataView(new ArrayBuffer(4));",
  "export function sum(xs: number[]): number { let s = 0; for (const x of xs) s += x; return s; }",
  "export function sumBytes(b: Uint8Array): number { let s = 0; for (const x of b) s += x; return s; }",
  "export function sumRo(xs: readonly number[]): number { let s = 0; for (const x of xs) s += x; return s; }",
  "export const e = Object.entries({ a: 1 }).length + Object.values({ a: 1 }).length + Object.keys({}).length;",
  'export const t = "ab".startsWith("a") && "ab".repeat(2) === "abab";',
  "export const i = [1, 2].findIndex((x) => x === 2) + new Int32Array(2).fill(1)[0];",
  "export const j = JSON.parse('{\"a\":1}') as { a: number };",
  "export const d = new Date(0).getTime();",
  "export const x = new Float32Array(4).subarray(1).indexOf(0);",
  "export const m = Math.floor(1.5) + Math.pow(2, 3) + Math.max(1, 2);",
  "export const n = Number.isNaN(1) || isNaN(1);",
];

describe("the device lib", () => {
  // One program for every snippet: the lib is large, so checking it once keeps the test quick.
  const result = typeCheck([...mustFail.map(([code]) => code), ...mustPass]);
  const failResults = result.snippets.slice(0, mustFail.length);
  const passResults = result.snippets.slice(mustFail.length);

  it("type-checks cleanly itself", () => {
    expect(result.lib).toEqual([]);
  });

  mustFail.forEach(([code, error], i) => {
    it(`rejects: ${code}`, () => {
      expect(failResults[i].join("\n")).toMatch(error);
    });
  });

  mustPass.forEach((code, i) => {
    it(`accepts: ${code}`, () => {
      expect(passResults[i]).toEqual([]);
    });
  });

  it("has none of the missing static members", () => {
    const uses = missingProperties.map((p) => `export const x = ${p.object}.${p.property};`);
    const { snippets } = typeCheck(uses);
    uses.forEach((code, i) => expect(snippets[i].join(" "), code).toMatch(/does not exist on type/));
  });

  it("declares none of the missing globals, except Symbol as an unusable stub", () => {
    const names = missingGlobals.map((g) => g.name).filter((name) => name !== "Symbol");
    const { snippets } = typeCheck(names.map((name) => `export const x = ${name};`));
    names.forEach((name, i) => expect(snippets[i].join(" "), name).toMatch(new RegExp(`Cannot find name '${name}'`)));
    const symbol = typeCheck(["Symbol();", "new Symbol();", "export const k = Symbol.iterator;", "export const f = Symbol.for;"]);
    expect(symbol.snippets.map((m) => m.join(" "))).toEqual([
      expect.stringMatching(/not callable/),
      expect.stringMatching(/Constructor of class 'Symbol' is private/),
      expect.stringMatching(/Property 'iterator' is private/),
      expect.stringMatching(/Property 'for' does not exist/),
    ]);
  });

  it("strips the lib reference directives and says what it removed", () => {
    expect(libText).not.toMatch(/<reference lib=/);
    expect(libText).toMatch(/removed: .*Math\.trunc/);
    expect(libText).toContain(`TypeScript ${ts.version}`);
  });
});
