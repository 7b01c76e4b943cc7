// Known-bad and known-good snippets for every entry of tools/build/subset.ts,
// shared by the lint test and the bundle check test. They are written out
// here, not generated from the selectors, so an entry whose selector or
// predicate silently matches nothing fails a test.

/** Snippets for one subset rule. */
export interface SubsetCase {
  id: string;
  /** Plain JavaScript that must be rejected (by the lint rule and, where the rule has one, the bundle check). */
  bad: string[];
  /** Plain JavaScript that must pass every subset check. */
  good: string[];
  /** TypeScript-only snippets that the lint rule must reject. */
  badTs?: string[];
  /** TypeScript-only snippets that must pass the lint rules. */
  goodTs?: string[];
}

export const subsetCases: readonly SubsetCase[] = [
  {
    id: "destructuring",
    bad: [
      "const { a } = o;",
      "const [x, y] = list;",
      "let a, b;\n[a, b] = [b, a];",
      "function f({ a }) { return a; }",
      "try { f(); } catch ({ message }) { g(message); }",
    ],
    good: ["const a = o.a;\nconst x = list[0];", "try { f(); } catch (e) { g(e.message); }"],
  },
  {
    id: "spread",
    bad: ["f(...args);", "const copy = [...list];", "const merged = { ...o, b: 1 };"],
    good: ["f.apply(null, args);\nconst merged = Object.assign({}, o, { b: 1 });"],
  },
  {
    id: "rest",
    bad: ["function f(...args) { return args; }", "const g = (first, ...others) => others;"],
    good: ["function f(args) { return args.length; }\nfunction g() { return arguments.length; }"],
    badTs: ["function f(...args: number[]): number[] { return args; }"],
    goodTs: [
      "type Handler = (...args: unknown[]) => void;",
      "declare function log(...parts: string[]): void;",
      "interface Logger { log(...parts: string[]): void }",
    ],
  },
  {
    id: "default-parameter",
    bad: ["function f(a, b = 2) { return a + b; }", "const g = (x = 1) => x;"],
    good: ["function f(a, b) { if (b === undefined) b = 2; return a + b; }"],
    badTs: ["function f(a: number, b = 2): number { return a + b; }"],
    goodTs: ["function f(a: number, b?: number): number { return a + (b ?? 2); }"],
  },
  {
    id: "computed-key",
    bad: ["const o = { [k]: 1 };", "class A { [k]() { return 1; } }", "class B { ['x'] = 1; }"],
    good: ["const o = {};\no[k] = 1;\nconst v = o[k];"],
    goodTs: ["interface Table { [key: string]: number }"],
  },
  {
    id: "exponent",
    bad: ["const y = x ** 2;", "x **= 2;"],
    good: ["const y = Math.pow(x, 2);\nconst z = x * x;"],
  },
  {
    id: "label",
    bad: [
      "outer: for (var i = 0; i < 3; i++) { for (var j = 0; j < 3; j++) { if (j) break outer; } }",
      "block: { if (a) break block; f(); }",
    ],
    good: ["for (var i = 0; i < 3; i++) { if (i) break; }"],
  },
  {
    id: "optional-chaining",
    bad: ["const b = a?.b;", "f?.();", "const c = a?.[0];"],
    good: ["const b = a !== undefined ? a.b : undefined;\nconst c = a ?? d;"],
  },
  {
    id: "async-await",
    bad: ["async function f() { await g(); }", "const h = async () => 1;", "class A { async m() { return 1; } }"],
    good: ["function f() { return g().then(function (v) { return v + 1; }); }"],
  },
  {
    id: "generator",
    bad: ["function* gen() { yield 1; }", "class A { *m() { return 1; } }"],
    good: ["function counter() { var n = 0; return { next: function () { return n++; } }; }"],
  },
  {
    id: "loop-closure",
    bad: [
      "for (let i = 0; i < 3; i++) { setTimeout(() => use(i), 0); }",
      "for (const x of list) { handlers.push(function () { return x; }); }",
      "for (const k in o) { fns.push(() => k); }",
      "for (let i = 0; i < 3; i++) { function show() { return i; } fns.push(show); }",
    ],
    good: [
      "function handlerFor(v) { return function () { return v; }; }\nfor (let i = 0; i < 3; i++) { fns.push(handlerFor(i)); }",
      "for (var i = 0; i < 3; i++) { fns.push(() => i); }",
      "list.forEach(function (x) { fns.push(() => x); });",
    ],
  },
  {
    id: "extends-error",
    bad: ["class ParseError extends Error {}", "const E2 = class extends TypeError {};"],
    good: ["class Base {}\nclass Derived extends Base {}\nthrow new Error('E_PARSE: bad length');"],
  },
  {
    id: "static-member",
    bad: ["class A { static make() { return 1; } }", "class B { static count = 1; }", "class C { static { init(); } }"],
    good: ["class A { make() { return 1; } }\nfunction makeA() { return new A(); }"],
  },
  {
    id: "named-class-expression",
    bad: ["const X = class Y { m() { return 1; } };", "const Z = class W { m() { return W; } };"],
    good: ["const X = class { m() { return 1; } };"],
  },
  {
    id: "class-self-reference",
    bad: [
      "class Meter { clone() { return new Meter(); } }",
      "class Slot { same(o) { return o instanceof Slot; } }",
    ],
    good: ["class Meter { constructor() { this.n = 0; } }\nfunction cloneMeter(m) { const c = new Meter(); c.n = m.n; return c; }"],
    goodTs: [
      "class Meter { n = 0; clone(): Meter { return new (this.constructor as new () => Meter)(); } }",
      "class Slot { same(o: Slot): boolean { return o === this; } }",
    ],
  },
  {
    id: "subclass-fields-without-constructor",
    bad: ["class A { constructor() { this.a = 1; } }\nclass B extends A { b = 2; }"],
    good: [
      "class A { constructor() { this.a = 1; } }\nclass B extends A { constructor() { super(); this.b = 2; } }",
      "class A { a = 1; }\nclass B extends A { b = 2; constructor() { super(); } }",
      "class A { a = 1; }\nclass D extends A { m() { return 1; } }",
    ],
    goodTs: ["class A { a = 1; }\nclass C extends A { declare d: number; }"],
  },
  {
    id: "regex-feature",
    bad: [
      "const r = /^ab?c$/;",
      "const r = /^(?:ab)+$/;",
      "const r = /^[a-z]{1,24}$/;",
      "const r = /a(?=b)/;",
      "const r = /a+?/;",
      "const r = /\\bword\\b/;",
    ],
    good: ["const r = /^[A-Za-z0-9_-]+$/;", "const r = /^(D[0-9]|D[1-3][0-9])$/;", "const r = /^[?{]+a\\{1\\}$/;", "const r = /^\\d+\\s*$/i;"],
  },
  {
    id: "tagged-template",
    bad: ["const s = tag`x${1}`;"],
    good: ["const s = `x${1}`;\nconst t = tag(`x${s}`);"],
  },
  {
    id: "private-name",
    bad: [
      "class A { #x = 1; get x() { return this.#x; } }",
      "class B { #m() { return 1; } has(o) { return #m in o; } }",
    ],
    good: ["class A { constructor() { this.x = 1; } get double() { return this.x * 2; } }"],
    goodTs: ["class A { private x = 1; get double(): number { return this.x * 2; } }"],
  },
  {
    id: "enum",
    bad: [],
    good: ["const KIND_ACK = 0;\nconst KIND_REQ = 2;"],
    badTs: ["enum Kind { Ack, Req }", "const enum Kind { Ack }"],
  },
  {
    id: "return-line-break",
    bad: ["function f(x) {\n  return\n  x + 1;\n}", "function g() {\n  if (a) return\n  b();\n}"],
    good: [
      "function f(x) {\n  return x + 1;\n}",
      "function g() {\n  return;\n}",
      "function h() {\n  if (a) return\n}",
      "function k() {\n  return // done\n}",
      "function m() {\n  if (a) { return }\n  b();\n}",
    ],
  },
  {
    id: "use-before-define",
    bad: [
      "run();\nfunction run() { return 1; }",
      "function a() { return b(); }\nfunction b() { return 1; }",
      "const x = y + 1;\nconst y = 2;",
      "new A();\nclass A {}",
    ],
    good: ["function b() { return 1; }\nfunction a() { return b(); }\na();"],
    goodTs: ["function read(c: Clock): number { return c.n; }\ninterface Clock { n: number }"],
  },
  {
    id: "es5-class-helper",
    bad: ["var __extends = function (d, b) { d.prototype = Object.create(b.prototype); };", "__extends(A, B);"],
    good: ["class A {}\nclass B extends A {}"],
  },
  {
    id: "array-prototype",
    bad: ["const copy = Array.prototype.slice.call(args);", "const parts = String.prototype.split.call(s, ',');"],
    good: ["const copy = [].slice.call(args);\nconst parts = s.split(',');"],
  },
  {
    id: "json-parse-reviver",
    bad: ["const v = JSON.parse(text, (k, val) => val);"],
    good: ["const v = JSON.parse(text);\nconst s = JSON.stringify(v, null, 2);"],
  },
  {
    id: "sort-comparator",
    bad: ["list.sort();"],
    good: ["list.sort((a, b) => a.w - b.w || a.id - b.id);"],
  },
];

/** One use of each missing global; every name in subset.ts must appear. */
export const missingGlobalCases: Readonly<Record<string, string>> = {
  Map: "const m = new Map();",
  Set: "const s = new Set([1, 2]);",
  WeakMap: "const w = new WeakMap();",
  WeakSet: "const w = new WeakSet();",
  Symbol: "const key = Symbol('id');",
  TextEncoder: "const bytes = new TextEncoder().encode(s);",
  TextDecoder: "const text = new TextDecoder().decode(bytes);",
  Proxy: "const p = new Proxy(target, {});",
  Reflect: "const v = Reflect.get(o, 'x');",
};

/** One use of each missing static member; every one in subset.ts must appear. */
export const missingPropertyCases: Readonly<Record<string, string>> = {
  "Math.imul": "const p = Math.imul(a, b);",
  "Math.trunc": "const t = Math.trunc(1.5);",
  "Math.fround": "const f = Math.fround(0.1);",
  "Math.clz32": "const z = Math.clz32(1);",
  "Number.isInteger": "const i = Number.isInteger(x);",
  "Number.isFinite": "const f = Number.isFinite(x);",
  "Object.freeze": "const o = Object.freeze({});",
  "Object.setPrototypeOf": "Object.setPrototypeOf(D, B);",
  "Object.getOwnPropertySymbols": "const s = Object.getOwnPropertySymbols(o);",
  "Array.from": "const a = Array.from(list);",
  "ArrayBuffer.isView": "const v = ArrayBuffer.isView(x);",
  "Int8Array.from": "const a = Int8Array.from(list);",
  "Int8Array.of": "const a = Int8Array.of(1, 2);",
  "Uint8Array.from": "const a = Uint8Array.from(list);",
  "Uint8Array.of": "const a = Uint8Array.of(1, 2);",
  "Uint8ClampedArray.from": "const a = Uint8ClampedArray.from(list);",
  "Uint8ClampedArray.of": "const a = Uint8ClampedArray.of(1);",
  "Int16Array.from": "const a = Int16Array.from(list);",
  "Int16Array.of": "const a = Int16Array.of(1);",
  "Uint16Array.from": "const a = Uint16Array.from(list);",
  "Uint16Array.of": "const a = Uint16Array.of(1);",
  "Int32Array.from": "const a = Int32Array.from(list);",
  "Int32Array.of": "const a = Int32Array.of(1);",
  "Uint32Array.from": "const a = Uint32Array.from(list);",
  "Uint32Array.of": "const a = Uint32Array.of(1);",
  "Float32Array.from": "const a = Float32Array.from(list);",
  "Float32Array.of": "const a = Float32Array.of(1);",
  "Float64Array.from": "const a = Float64Array.from(list);",
  "Float64Array.of": "const a = Float64Array.of(1);",
};

/** Uses of present built-ins that must pass every check. */
export const presentBuiltins: readonly string[] = [
  "const a = new Uint8Array(4);\na.set([1, 2]);\nconst b = a.subarray(1, 2);",
  "const view = new DataView(new ArrayBuffer(4));\nview.setFloat32(0, 1.5);",
  "const o = Object.assign({}, { a: 1 });\nconst k = Object.keys(o);\nconst e = Object.entries(o);",
  "const found = [1, 2].find((x) => x > 1);\nconst has = [1].includes(1);",
  "const s = 'a'.padStart(2, '0');\nconst t = s.startsWith('0');",
  "const p = Promise.resolve(1);",
  "const n = Math.floor(1.5) + Math.pow(2, 3) + Math.round(0.5);",
  "o.Map = 1;\nconst x = { Symbol: 1, trunc: 2 };\nconst y = x.trunc;",
  "function local() { var Map = makeTable; return new Map(); }",
];
