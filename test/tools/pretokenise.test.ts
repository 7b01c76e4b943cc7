// tools/build/pretokenise.ts: the bundle as the board stores it. Token
// numbers are 2v29's (src/jslex.h); the device check (tools/device/run.ts)
// also compares the whole bundle with the interpreter's own tokeniser.

import { readFileSync } from "node:fs";
import * as vm from "node:vm";
import * as acorn from "acorn";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { asKeywords, detokenise, pretokenise } from "../../tools/build/pretokenise";

/** The syntax tree without positions, to compare two spellings of one program. */
function tree(code: string): unknown {
  return JSON.parse(JSON.stringify(acorn.parse(code, { ecmaVersion: 2020, allowReturnOutsideFunction: true }), (k, v) => (k === "start" || k === "end" || k === "raw" ? undefined : v)));
}

const bytes = (code: string): number[] => [...pretokenise(code)];
const text = (s: string): number[] => [...Buffer.from(s, "latin1")];

describe("pretokenise", () => {
  it("makes reserved words and operators of two or more characters one byte each, with no space around them", () => {
    // if=163 ( a ===139 b ) return=171 a &&=158 b ; let=173 c = new=184 X ; c >>>=149 1
    expect(bytes("if(a===b)return a&&b;let c=new X;c>>>=d")).toEqual([163, ...text("(a"), 139, ...text("b)"), 171, ...text("a"), 158, ...text("b;"), 173, ...text("c="), 184, ...text("X;c"), 149, ...text("d")]);
    expect(bytes("a in b;typeof a;x=>x;a instanceof B")).toEqual([...text("a"), 185, ...text("b;"), 191, ...text("a;x"), 162, ...text("x;a"), 186, ...text("B")]);
    // The last of each list: `of` (198) and `=>` (162).
    expect(bytes("for(const a of b);")).toEqual([167, 40, 174, ...text("a"), 198, ...text("b);")]);
  });

  it("keeps names that only contain a reserved word, and keeps the space between two names or numbers", () => {
    expect(bytes("var iff=ifx,$if=_do")).toEqual([172, ...text("iff=ifx,$if=_do")]);
    expect(detokenise(pretokenise("x=a- -b+ +c"))).toBe("x=a- -b+ +c");
  });

  it("stores integers from 0 to 32767 as raw bytes, and leaves other numbers as text", () => {
    expect(bytes("a=0")).toEqual([...text("a="), 211]);
    expect(bytes("a=127")).toEqual([...text("a="), 212, 127]);
    expect(bytes("a=128")).toEqual([...text("a="), 213, 128, 0]);
    expect(bytes("a=32767")).toEqual([...text("a="), 213, 255, 127]);
    expect(bytes("a=200")).toEqual([...text("a="), 213, 200, 0]);
    expect([...pretokenise("a=200", true)]).toEqual(text("a=200"));
    expect(bytes("a=0x7f")).toEqual([...text("a="), 212, 127]);
    for (const n of ["32768", "1e3", "1.5", ".5", "4294967295"]) expect(bytes("a=" + n)).toEqual(text("a=" + n));
  });

  it("stores ASCII strings as length and bytes, and leaves empty and non-ASCII ones as text", () => {
    expect(bytes('a="x\\"y"')).toEqual([...text("a="), 209, 3, ...text('x"y')]);
    const long = "z".repeat(300);
    expect(bytes(`a="${long}"`)).toEqual([...text("a="), 210, 300 & 255, 300 >> 8, ...text(long)]);
    expect(bytes('a=""')).toEqual(text('a=""'));
    expect(bytes('a="\\u00ff"')).toEqual(text('a="\\u00ff"'));
  });

  it("writes !0, !1 and void 0 as true, false and undefined, and only where they stand alone", () => {
    expect(bytes("a=!0,b=!1;return!0")).toEqual([...text("a="), 180, ...text(",b="), 181, 59, 171, 180]);
    expect(bytes("a=void 0")).toEqual([...text("a="), 183]);
    expect(asKeywords("a=!0[1]")).toBe("a=!0[1]");
    expect(asKeywords("a=!0.5")).toBe("a=!0.5");
    expect(asKeywords("a=(!0).x")).toBe("a=(true).x");
  });

  it("refuses template literals, which the bundle never holds, and text that is not ASCII", () => {
    expect(() => pretokenise("a=`x${b}`")).toThrow(/template literal/);
    expect(() => pretokenise('a="\u00e9"'.replace("\\u00e9", "\u00e9"))).toThrow(/not ASCII at 3/);
  });

  it("reads back as the same program: every token of the shipped bundle", () => {
    const code = readFileSync(new URL("../../build/router.js", import.meta.url), "latin1");
    const boot = pretokenise(code);
    expect(boot.length).toBeLessThan(code.length * 0.9);
    expect(tree(detokenise(boot))).toEqual(tree(asKeywords(code)));
  });
});

// Random programs in the minified style: no spaces but where a name meets a name.
const name = fc.constantFrom("a", "b", "$", "_x", "if1", "doIt", "of1", "e2");
const number = fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), fc.double({ min: 0, max: 1e6, noNaN: true }).map(String), fc.integer({ min: 0, max: 65535 }).map((n) => "0x" + n.toString(16)));
const string = fc.string({ maxLength: 300, unit: fc.oneof(fc.constantFrom("a", "\n", '"', "\\", "\x00", "\x7f", "\u00e9", "\u20ac"), fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c))) }).map((s) => JSON.stringify(s).replace(/[^\x00-\x7f]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")));
const keyword = fc.constantFrom("true", "false", "null", "undefined", "this", "!0", "!1", "void 0");
const binary = fc.constantFrom("==", "===", "!=", "!==", "<=", "<<", ">=", ">>", ">>>", "+", "-", "*", "/", "%", "&", "&&", "|", "||", "^", " in ", " instanceof ", "<", ">");
const assign = fc.constantFrom("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", ">>>=");

/** Joins parts as a minifier would: a space only between two word characters, and in `- -` and `+ +`. */
function join(...parts: string[]): string {
  return parts.reduce((a, p) => a + ((/[\w$]$/.test(a) && /^[\w$]/.test(p)) || (/[-+]$/.test(a) && /^[-+]/.test(p)) ? " " : "") + p, "");
}

const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    name,
    number,
    string,
    keyword,
    fc.tuple(tie("expr"), binary, tie("expr")).map(([l, o, r]) => join("(", l, ")", o.trim(), "(", r, ")")),
    fc.tuple(name, assign, tie("expr")).map(([l, o, r]) => join(l, o, r)),
    fc.tuple(fc.constantFrom("!", "-", "+", "typeof", "void", "-", "++", "--"), name).map(([o, a]) => join(o, a)),
    fc.tuple(name, fc.constantFrom("++", "--")).map(([a, o]) => a + o),
    fc.tuple(tie("expr"), tie("expr"), tie("expr")).map(([c, a, b]) => join("(", c, ")?", a, ":", b)),
    fc.tuple(name, fc.array(tie("expr"), { maxLength: 3 })).map(([f, args]) => join(f, "(", args.join(","), ")")),
    fc.tuple(name, tie("expr")).map(([a, b]) => join("new", " ", a, "(", b, ")")),
    fc.tuple(name, tie("expr")).map(([a, b]) => join("(", a, ")=>(", b, ")")),
    fc.tuple(name, tie("expr")).map(([a, b]) => join("function(", a, "){return", " ", b, "}")),
    fc.tuple(tie("expr"), tie("expr")).map(([a, b]) => join("[", a, ",", b, "]")),
    fc.tuple(tie("expr"), string).map(([a, k]) => join("{", k, ":", a, ",of:1,default:2}")),
  ),
}));
const statement = fc.oneof(
  expr.map((e) => join("x=", e, ";")),
  fc.tuple(name, expr, expr).map(([n, a, b]) => join("for(let", " ", n, " ", "of", " ", a, "){if(", b, ")break;else continue}")),
  fc.tuple(expr, expr).map(([a, b]) => join("switch(", a, "){case", " ", b, ":do{}while(0);default:throw", " ", a, "}")),
  fc.tuple(expr, expr).map(([a, b]) => join("try{x=", a, "}catch(e){x=", b, "}finally{delete", " ", "e.x}")),
);

/** What an expression gives in Node, or the kind of error it throws. */
function value(code: string): string {
  try {
    const v = vm.runInNewContext("(" + code + ")");
    return typeof v + ":" + JSON.stringify(v);
  } catch (e) {
    return "throws " + (e as Error).name;
  }
}

describe("asKeywords over random expressions", () => {
  it("gives the same value as the expression it rewrote", () => {
    const atom = fc.constantFrom("!0", "!1", "void 0", "0", "1", "2.5", "'s'", "[1]", "({a:1})", "null");
    const { e } = fc.letrec<{ e: string }>((tie) => ({
      e: fc.oneof(
        { depthSize: "small" },
        atom,
        fc.tuple(fc.constantFrom("!", "- ", "+ ", "~", "typeof ", "void "), tie("e")).map(([o, x]) => o + x),
        fc.tuple(tie("e"), fc.constantFrom("+", "-", "*", "/", "==", "===", "!=", "<", ">=", "&&", "||", "&", "|", "^", "<<", ">>>", " in "), tie("e")).map(([x, o, y]) => "(" + x + ")" + o + "(" + y + ")"),
        fc.tuple(tie("e"), tie("e"), tie("e")).map(([c, x, y]) => c + "?" + x + ":" + y),
        fc.tuple(tie("e"), tie("e")).map(([x, y]) => "[" + x + "," + y + "]"),
      ),
    }));
    fc.assert(
      fc.property(e, (code) => {
        expect(value(asKeywords(code))).toBe(value(code));
      }),
      { numRuns: 500 },
    );
  });
});

describe("pretokenise over random programs", () => {
  it("reads back to the same syntax tree as the program it was made from", () => {
    fc.assert(
      fc.property(fc.array(statement, { minLength: 1, maxLength: 4 }), (statements) => {
        const code = "(function(){" + statements.join("") + "})";
        expect(tree(detokenise(pretokenise(code)))).toEqual(tree(asKeywords(code)));
        // Without 0 bytes (for the Linux interpreter's script files), the same program.
        const noNul = pretokenise(code, true);
        expect(noNul.includes(0)).toBe(false);
        expect(tree(detokenise(noNul))).toEqual(tree(asKeywords(code)));
      }),
      { numRuns: 400 },
    );
  });
});
