import { parse, type Program } from "acorn";
import { minify } from "terser";
import { describe, expect, it } from "vitest";
import { varsUsedBeforeDeclaration } from "../../tools/build/check-bundle";
import { hoistLateVars } from "../../tools/build/hoist-vars";

const late = (code: string) => varsUsedBeforeDeclaration(parse(code, { ecmaVersion: 2020 }) as Program).map((u) => u.name);

describe("tools/build/hoist-vars: a var after its use moved to the top of its function (2v29 does not hoist var)", () => {
  it("moves terser's declaration of an inlined parameter, and leaves an empty statement in its place", () => {
    const code = "function f(t){return g((i=t.c)>32?i-32:0);var i}";
    expect(late(code)).toEqual(["i", "i"]);
    const out = hoistLateVars(code);
    expect(out).toBe("function f(t){var i;return g((i=t.c)>32?i-32:0);;}");
    expect(late(out)).toEqual([]);
  });

  // Node hoists var itself: running the output there only shows it is still the same program.
  it("keeps a declaration that is the body of an if a statement", () => {
    const out = hoistLateVars("function f(a){a&&(s=1);if(a)var s;return s}");
    expect(out).toBe("function f(a){var s;a&&(s=1);if(a);return s}");
    expect(new Function("return " + out)()(1)).toBe(1);
  });

  it("changes nothing where every var comes before its uses", () => {
    const code = "function f(t){var i;return (i=t)>1?i:0}";
    expect(hoistLateVars(code)).toBe(code);
  });

  it("refuses a late var it cannot move: one with a value", () => {
    expect(() => hoistLateVars("function f(){g(i);var i=2}")).toThrow(/cannot be moved/);
  });

  it("makes terser's own inlining of a function with a twice-used parameter declare it first", async () => {
    // The pattern that reached the agent: a small function inlined with a property read as its argument.
    const source = "(function(){function floor(s){return s>32?s-32:0}class A{constructor(){this.last=40}check(k){return open(k,floor(this.last))}}function open(k,f){return [k,f]}globalThis.out=new A().check(1)})();";
    const minified = (await minify(source, { compress: { passes: 3 }, mangle: true })).code!;
    expect(late(minified).length).toBeGreaterThan(0);
    const out = hoistLateVars(minified);
    expect(late(out)).toEqual([]);
    const g = globalThis as { out?: unknown };
    new Function(out)();
    expect(g.out).toEqual([1, 8]);
    delete g.out;
  });
});
