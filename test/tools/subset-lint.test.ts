// The project's ESLint config (eslint.config.js) rejects every construct of
// the Espruino subset in device code, and only there.

import { ESLint, type Linter } from "eslint";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { subsetRuleIds } from "../../tools/build/eslint-espruino";
import { missingGlobals, missingProperties, syntaxRules, type SubsetRule } from "../../tools/build/subset";
import { missingGlobalCases, missingPropertyCases, presentBuiltins, subsetCases } from "./subset-cases";

const root = fileURLToPath(new URL("../..", import.meta.url));
const eslint = new ESLint({ cwd: root });

/** Lints `code` as if it were the file `path` (relative to the repository), which need not exist. */
async function lint(code: string, path: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  const fatal = result.messages.filter((m) => m.fatal);
  if (fatal.length > 0) throw new Error(`${path} does not parse: ${fatal[0].message}\n${code}`);
  return result.messages;
}

function subsetMessages(messages: Linter.LintMessage[]): string[] {
  return messages.filter((m) => m.ruleId !== null && subsetRuleIds.includes(m.ruleId)).map((m) => `${m.ruleId}: ${m.message}`);
}

function reports(messages: Linter.LintMessage[], rule: SubsetRule): boolean {
  if (rule.lint.kind === "syntax") return messages.some((m) => m.ruleId === "no-restricted-syntax" && m.message === rule.message);
  const id = rule.lint.rule;
  return messages.some((m) => m.ruleId === id);
}

function ruleById(id: string): SubsetRule {
  const rule = syntaxRules.find((r) => r.id === id);
  if (!rule) throw new Error(`no subset rule ${id}`);
  return rule;
}

describe("the subset cases", () => {
  it("cover every rule of subset.ts with a bad and a good snippet", () => {
    for (const rule of syntaxRules) {
      const c = subsetCases.find((x) => x.id === rule.id);
      expect(c, rule.id).toBeDefined();
      expect([...(c?.bad ?? []), ...(c?.badTs ?? [])].length, rule.id).toBeGreaterThan(0);
      expect(c?.good.length, rule.id).toBeGreaterThan(0);
    }
    expect(subsetCases.map((c) => c.id).sort()).toEqual(syntaxRules.map((r) => r.id).sort());
  });

  it("cover every missing global and every missing property", () => {
    expect(Object.keys(missingGlobalCases).sort()).toEqual(missingGlobals.map((g) => g.name).sort());
    expect(Object.keys(missingPropertyCases).sort()).toEqual(missingProperties.map((p) => `${p.object}.${p.property}`).sort());
  });
});

describe("lint rules in firmware/", () => {
  for (const c of subsetCases) {
    const rule = ruleById(c.id);
    for (const code of [...c.bad, ...(c.badTs ?? [])]) {
      it(`${c.id} rejects: ${code}`, async () => {
        const messages = await lint(code, "firmware/snippet.ts");
        expect(reports(messages, rule), subsetMessages(messages).join("\n")).toBe(true);
      });
    }
    for (const code of [...c.good, ...(c.goodTs ?? [])]) {
      it(`${c.id} accepts: ${code}`, async () => {
        expect(subsetMessages(await lint(code, "firmware/snippet.ts"))).toEqual([]);
      });
    }
  }

  for (const [name, code] of Object.entries(missingGlobalCases)) {
    it(`missing global ${name} is rejected: ${code}`, async () => {
      const messages = await lint(code, "firmware/snippet.ts");
      expect(messages.some((m) => m.ruleId === "no-restricted-globals" && m.message.includes(`${name} does not exist on Espruino 2v29`))).toBe(true);
    });
  }

  for (const [name, code] of Object.entries(missingPropertyCases)) {
    it(`missing property ${name} is rejected: ${code}`, async () => {
      const messages = await lint(code, "firmware/snippet.ts");
      expect(messages.some((m) => m.ruleId === "no-restricted-properties" && m.message.includes(`${name} does not exist on Espruino 2v29`))).toBe(true);
    });
  }

  for (const code of presentBuiltins) {
    it(`present built-ins are accepted: ${code}`, async () => {
      expect(subsetMessages(await lint(code, "firmware/snippet.ts"))).toEqual([]);
    });
  }

  it("reports the return line break on the return statement", async () => {
    const messages = await lint("function f(x) {\n  return\n  x + 1;\n}", "firmware/snippet.ts");
    const hit = messages.find((m) => m.ruleId === "espruino/no-return-line-break");
    expect(hit && [hit.line, hit.column]).toEqual([2, 3]);
  });
});

describe("where the subset applies", () => {
  const everyBadSnippet = subsetCases.flatMap((c) => [...c.bad, ...(c.badTs ?? [])]);
  const everyMissing = [...Object.values(missingGlobalCases), ...Object.values(missingPropertyCases)];

  it("the same rules hold in protocol/, hal/ and hal/espruino/", async () => {
    for (const path of ["protocol/snippet.ts", "hal/snippet.ts", "hal/espruino/snippet.ts"]) {
      for (const c of subsetCases) {
        const code = [...c.bad, ...(c.badTs ?? [])][0];
        expect(reports(await lint(code, path), ruleById(c.id)), `${c.id} in ${path}`).toBe(true);
      }
    }
  });

  for (const path of ["hal/sim/snippet.ts", "test/snippet.ts", "tools/snippet.ts"]) {
    it(`no subset rule fires in ${path.split("/snippet")[0]}/`, async () => {
      for (const code of [...everyBadSnippet, ...everyMissing]) {
        expect(subsetMessages(await lint(code, path)), code).toEqual([]);
      }
    });
  }
});

describe("layers: who may touch Espruino, Node and Date", () => {
  async function flagged(code: string, path: string, ruleId: string): Promise<boolean> {
    return (await lint(code, path)).some((m) => m.ruleId === ruleId);
  }

  it("only hal/espruino/ may use the Espruino globals", async () => {
    const uses = [
      "E.kickWatchdog();",
      "digitalWrite('D5', 1);",
      "const v = digitalRead('D5');",
      "pinMode('D5', 'output');",
      "const id = setWatch(() => 0, 'D6', { repeat: true });",
      "clearWatch(1);",
      "const t = getTime();",
      "const storage = require('Storage');",
      "const m = process.memory();",
      "global.x = 1;",
    ];
    for (const code of uses) {
      for (const path of ["firmware/a.ts", "protocol/a.ts", "hal/relays.ts"]) {
        expect(await flagged(code, path, "no-restricted-globals"), `${code} in ${path}`).toBe(true);
      }
      expect(await flagged(code, "hal/espruino/a.ts", "no-restricted-globals"), code).toBe(false);
      expect(await flagged(code, "hal/sim/a.ts", "no-restricted-globals"), code).toBe(false);
    }
  });

  it("firmware/ and protocol/ take time only from the clock, not Date", async () => {
    for (const code of ["const t = Date.now();", "const d = new Date();"]) {
      expect(await flagged(code, "firmware/a.ts", "no-restricted-globals")).toBe(true);
      expect(await flagged(code, "protocol/a.ts", "no-restricted-globals")).toBe(true);
      expect(await flagged(code, "hal/espruino/a.ts", "no-restricted-globals")).toBe(false);
      expect(await flagged(code, "test/a.test.ts", "no-restricted-globals")).toBe(false);
    }
  });

  it("device code imports project files only", async () => {
    const banned = ["import { readFileSync } from 'node:fs';", "import fc from 'fast-check';", "import * as path from 'path';"];
    for (const code of banned) {
      for (const path of ["firmware/a.ts", "protocol/a.ts", "hal/a.ts", "hal/espruino/a.ts"]) {
        expect(await flagged(code, path, "no-restricted-imports"), `${code} in ${path}`).toBe(true);
      }
      expect(await flagged(code, "hal/sim/a.ts", "no-restricted-imports")).toBe(false);
      expect(await flagged(code, "test/a.test.ts", "no-restricted-imports")).toBe(false);
    }
    const allowed = ["import type { Clock } from '../hal/types';", "import { encode } from './cbor';"];
    for (const code of allowed) expect(await flagged(code, "firmware/a.ts", "no-restricted-imports"), code).toBe(false);
  });
});
