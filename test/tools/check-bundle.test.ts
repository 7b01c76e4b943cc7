// The bundle check (tools/build/check-bundle.ts) finds every construct of the
// subset in built JavaScript, including what esbuild writes on its own.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, transform } from "esbuild";
import { describe, expect, it } from "vitest";
import { checkBundle } from "../../tools/build/check-bundle";
import { syntaxRules } from "../../tools/build/subset";
import { missingGlobalCases, missingPropertyCases, presentBuiltins, subsetCases } from "./subset-cases";

const root = fileURLToPath(new URL("../..", import.meta.url));

function rulesFound(source: string): string[] {
  return checkBundle(source).map((p) => p.rule);
}

/** Bundles TypeScript the way a firmware build would: esbuild, target es2015, minified. */
async function esbuildBundle(code: string, format: "cjs" | "iife" = "iife"): Promise<string> {
  const result = await build({
    stdin: { contents: code, loader: "ts", resolveDir: root, sourcefile: "sample.ts" },
    bundle: true,
    write: false,
    target: "es2015",
    format,
    minify: true,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

describe("checkBundle: the subset rules", () => {
  for (const c of subsetCases) {
    const rule = syntaxRules.find((r) => r.id === c.id);
    if (!rule?.bundle) continue;
    for (const code of c.bad) {
      it(`${c.id} is found in: ${code}`, () => {
        expect(rulesFound(code)).toContain(c.id);
      });
    }
    for (const code of c.good) {
      it(`${c.id} passes: ${code}`, () => {
        expect(checkBundle(code)).toEqual([]);
      });
    }
  }

  it("every rule either has a bundle check or says why not", () => {
    for (const rule of syntaxRules) {
      expect(!!rule.bundle !== !!rule.sourceOnly, rule.id).toBe(true);
    }
  });

  for (const [name, code] of Object.entries(missingGlobalCases)) {
    it(`missing global ${name} is found: ${code}`, () => {
      const problems = checkBundle(code);
      expect(problems.some((p) => p.rule === "missing-global" && p.message.startsWith(`${name} does not exist`))).toBe(true);
    });
  }

  for (const [name, code] of Object.entries(missingPropertyCases)) {
    it(`missing property ${name} is found: ${code}`, () => {
      const problems = checkBundle(code);
      expect(problems.some((p) => p.rule === "missing-property" && p.message.startsWith(`${name} does not exist`))).toBe(true);
    });
  }

  it("finds a missing property read with a string key", () => {
    expect(rulesFound("var t = Math['trunc'](x);")).toEqual(["missing-property"]);
  });

  for (const code of presentBuiltins) {
    it(`present built-ins pass: ${code}`, () => {
      expect(checkBundle(code)).toEqual([]);
    });
  }
});

describe("checkBundle: text and parsing", () => {
  it("reports line and column (1-based) of each problem, in source order", () => {
    const problems = checkBundle("var a = 1;\nvar { b } = o;\nf(...a);");
    expect(problems.map((p) => [p.line, p.column, p.rule])).toEqual([
      [2, 5, "destructuring"],
      [3, 3, "spread"],
    ]);
  });

  it("finds non-ASCII characters, one report per run", () => {
    const problems = checkBundle('var s = "caf\u00e9";\nvar t = "\u00bd\u00bd";');
    expect(problems.map((p) => [p.line, p.column, p.rule])).toEqual([
      [1, 13, "non-ascii"],
      [2, 10, "non-ascii"],
    ]);
    expect(problems[1].message).toMatch(/^2 non-ASCII/);
  });

  it("accepts non-ASCII text written as escapes", () => {
    expect(checkBundle('var s = "caf\\u00e9";')).toEqual([]);
  });

  it("refuses a module: Espruino loads scripts", () => {
    expect(rulesFound("import x from 'y';")).toEqual(["parse"]);
    expect(rulesFound("export const a = 1;")).toEqual(["parse"]);
  });

  it("refuses text that does not parse, with its position", () => {
    const [problem] = checkBundle("var a = 1;\nvar = 2;");
    expect([problem.line, problem.rule]).toEqual([2, "parse"]);
  });

  it("finds a var used before its declaration in the same function, which 2v29 does not hoist", () => {
    // terser's inlining of a function with a parameter, as it reached the agent.
    const problems = checkBundle("function f(t){return g((i=t.c)>32?i-32:0);var i}");
    expect(problems.map((p) => [p.rule, p.column])).toEqual([
      ["var-before-declaration", 25],
      ["var-before-declaration", 35],
    ]);
    expect(problems[0].message).toMatch(/^i is used before its `var`/);
    // Declared first, or a parameter of the same name: fine.
    expect(rulesFound("function f(t){var i;return g((i=t.c)>32?i-32:0)}")).toEqual([]);
    expect(rulesFound("function f(i){i=1;var i;return i}")).toEqual([]);
    expect(rulesFound("i=1;var i;")).toEqual(["var-before-declaration"]);
    // A function inside that may run before the var has: counted too, unless it binds the name itself.
    expect(rulesFound("function f(){var g=()=>i;var i=2;return g()}")).toEqual(["var-before-declaration"]);
    expect(rulesFound("function f(){var g=(i)=>i;var i=2;return g(i)}")).toEqual([]);
    expect(rulesFound("function f(){var g=()=>{let i=1;return i};var i=2;return g()}")).toEqual([]);
  });

  it("finds a var inside a block, which 2v29 makes only when the statement runs", () => {
    // Measured on 2v29: g(0) set a global s.
    expect(rulesFound("function g(a){if(a){var s=1}else{s=2}return s}")).toEqual(["var-in-block"]);
    expect(rulesFound("function g(a){if(a){for(var i=0;i<a;i++);}return i}")).toEqual(["var-in-block"]);
    // A loop's head at the top of its function runs whenever the function gets there.
    expect(rulesFound("function g(a){for(var i=0;i<a;i++);return i}")).toEqual([]);
    expect(rulesFound("function g(a){var s;if(a){s=1}else{s=2}for(let i=0;i<a;i++);return s}")).toEqual([]);
    expect(rulesFound("var top=1;function g(){var s=top;return s}")).toEqual([]);
  });

  it("looks past comments for the token after a bare return", () => {
    expect(rulesFound("function f() {\n  return /* done */\n  g();\n}")).toEqual(["return-line-break"]);
    expect(rulesFound("function f() {\n  return /* done\n */ }")).toEqual([]);
    expect(rulesFound("function f() { return /* same line */ }")).toEqual([]);
  });

  it("finds the ES5 helpers of TypeScript and esbuild's reach for Reflect", () => {
    const tsHelper =
      "var __extends = (this && this.__extends) || function (d, b) { var extendStatics = Object.setPrototypeOf; extendStatics(d, b); };";
    expect(rulesFound(tsHelper)).toEqual(["es5-class-helper", "missing-property"]);
    expect(rulesFound("var __reflectGet = Reflect.get;")).toEqual(["missing-global"]);
  });
});

describe("esbuild output (target es2015, minified)", () => {
  const meterSample = [
    "class Meter {",
    "  count = 0;",
    "  private pulses: number | undefined;",
    "  get total(): number { return this.pulses ?? this.count; }",
    "  add(n: number): void { this.count += n; }",
    "}",
    "const meter = new Meter();",
    "meter.add(2);",
    "console.log(meter.total);",
  ].join("\n");

  it("a class with a getter, a class field and ?? passes (cjs, transformed)", async () => {
    const out = await transform(meterSample, { loader: "ts", target: "es2015", format: "cjs", minify: true });
    expect(out.code).toMatch(/get total\(\)/);
    expect(out.code).not.toMatch(/\?\?/);
    expect(checkBundle(out.code)).toEqual([]);
  });

  it("the same class passes when bundled (cjs and iife)", async () => {
    expect(checkBundle(await esbuildBundle(meterSample, "cjs"))).toEqual([]);
    expect(checkBundle(await esbuildBundle(meterSample, "iife"))).toEqual([]);
  });

  it("lowered optional chaining passes", async () => {
    const code = "declare const o: { a?: { b: number } };\nconsole.log(o.a?.b);";
    expect(checkBundle(await esbuildBundle(code))).toEqual([]);
  });

  it("a cjs bundle whose entry exports gets esbuild's __copyProps, a closure in a for-let loop", async () => {
    const out = await esbuildBundle(`${meterSample}\nexport { Meter };`, "cjs");
    expect(rulesFound(out)).toContain("loop-closure");
  });

  it("a bundled class that names itself becomes a named class expression", async () => {
    const out = await esbuildBundle("class Meter { clone(): Meter { return new Meter(); } }\nconsole.log(new Meter().clone());");
    expect(rulesFound(out)).toEqual(["named-class-expression"]);
  });

  it("a subclass with fields and no constructor gets super(...arguments)", async () => {
    const out = await esbuildBundle("class A { a = 1; }\nclass B extends A { b = 2; }\nconsole.log(new B().b);");
    expect(rulesFound(out)).toEqual(["spread"]);
  });

  it("private #names are lowered to WeakMap", async () => {
    const out = await esbuildBundle("class A { #x = 1; get x(): number { return this.#x; } }\nconsole.log(new A().x);");
    expect(rulesFound(out)).toContain("missing-global");
  });

  it("destructuring passes through esbuild unchanged", async () => {
    const out = await esbuildBundle("declare const o: number[];\nconst [a, b] = o;\nconsole.log(a + b);");
    expect(rulesFound(out)).toEqual(["destructuring"]);
  });
});

describe("tsx tools/build/check-bundle.ts <file>", () => {
  const dir = mkdtempSync(join(tmpdir(), "check-bundle-"));
  const tsxCli = join(root, "node_modules/tsx/dist/cli.mjs");
  const script = join(root, "tools/build/check-bundle.ts");

  function run(file: string): { status: number; stdout: string } {
    try {
      return { status: 0, stdout: execFileSync(process.execPath, [tsxCli, script, file], { encoding: "utf8" }) };
    } catch (e) {
      const err = e as { status: number; stdout: string };
      return { status: err.status, stdout: err.stdout };
    }
  }

  it("prints a one-line summary and exits 0 for a good bundle", () => {
    const file = join(dir, "good.js");
    const text = "var a = [1, 2].find(function (x) { return x > 1; });\n";
    writeFileSync(file, text);
    expect(run(file)).toEqual({ status: 0, stdout: `bundle ok: ${text.length} bytes, ASCII, no forbidden constructs\n` });
  });

  it("prints one line per problem with file:line:column and exits 1", () => {
    const file = join(dir, "bad.js");
    writeFileSync(file, "var a = 1;\nvar m = new Map();\nvar t = a?.b;\n");
    const { status, stdout } = run(file);
    expect(status).toBe(1);
    const problemLines = stdout.split("\n").filter((l) => l.startsWith(file));
    expect(problemLines).toEqual([
      expect.stringMatching(/:2:13: Map does not exist on Espruino 2v29: .* \[missing-global\]$/),
      expect.stringMatching(/:3:9: Optional chaining .* \[optional-chaining\]$/),
    ]);
  });
});
