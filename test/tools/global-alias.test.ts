import * as vm from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aliasGlobals } from "../../tools/build/global-alias";

/** What a wrapped program leaves in `out`, run in a fresh context. */
function run(code: string): unknown {
  const context = vm.createContext({ out: [] as unknown[] });
  vm.runInContext(code, context);
  return JSON.parse(JSON.stringify(context.out));
}

describe("tools/build/global-alias: built-ins as locals of the bundle", () => {
  it("makes a local of a built-in named four times or more, and rewrites only the uses of the global", () => {
    const code = "(function(){var o={Math:1};o.Math=2;class C{Math(){return Math.max(1,2)}}out.push(Math.floor(2.5),Math.min(3,4),new C().Math(),Math.abs(-1),o.Math)})();";
    const r = aliasGlobals(code);
    expect(r.aliased).toEqual(["Math"]);
    expect(r.code.startsWith("(function(){const sden_builtin_Math=Math;var o={Math:1};o.Math=2;class C{Math(){return sden_builtin_Math.max(")).toBe(true);
    expect(run(r.code)).toEqual(run(code));
  });

  it("leaves a built-in named fewer than four times as it is", () => {
    const code = "(function(){out.push(JSON.stringify(1),JSON.parse('2'),JSON.stringify([3]))})();";
    expect(aliasGlobals(code)).toEqual({ code, aliased: [] });
  });

  it("keeps constructors whole: new, instanceof and static methods see the same built-in", () => {
    const code = "(function(){var a=new Uint8Array(4),b=Uint8Array.from([1,2]);out.push(a instanceof Uint8Array,b instanceof Uint8Array,a.length,b[1])})();";
    const r = aliasGlobals(code);
    expect(r.aliased).toEqual(["Uint8Array"]);
    expect(run(r.code)).toEqual([true, true, 4, 2]);
  });

  it("refuses a bundle that declares a name of a built-in it also uses, and a shorthand property", () => {
    expect(() => aliasGlobals("(function(){function f(Math){return Math}out.push(Math.E,Math.PI,Math.LN2,Math.SQRT2)})();")).toThrow(/declares a Math of its own/);
    expect(() => aliasGlobals("(function(){out.push({JSON})})();")).toThrow(/\{JSON\}/);
    expect(() => aliasGlobals("out.push(Math.E)")).toThrow(/wrapper function/);
    expect(() => aliasGlobals("(function(){Math=1;out.push(Math.E,Math.PI,Math.LN2)})();")).toThrow(/assigns to Math/);
  });

  it("runs random programs over the built-ins to the same results", () => {
    const use = fc.constantFrom("Math.floor(x*3.7)", "Math.max(x,2)", "JSON.stringify([x])", "String(x)+'s'", "Array.isArray([x])", "Object.keys({a:x}).length", "Number('7')+x", "new Uint8Array(2).length", "new Float64Array([x])[0]", "new Int32Array(1) instanceof Int32Array", "typeof Math");
    fc.assert(
      fc.property(fc.array(use, { minLength: 1, maxLength: 30 }), fc.integer({ min: -5, max: 5 }), (uses, x) => {
        const code = `(function(){var x=${x};out.push(${uses.join(",")})})();`;
        expect(run(aliasGlobals(code).code)).toEqual(run(code));
      }),
      { numRuns: 200 },
    );
  });
});
