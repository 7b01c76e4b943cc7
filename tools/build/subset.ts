// The Espruino 2v29 subset of JavaScript, described once (docs: shared
// espruino.md, "Syntax" and "Built-ins"). Three tools read this file:
//   - eslint.config.js (through tools/build/eslint-espruino.ts) turns every
//     entry into a lint rule for device code (firmware/, protocol/, hal/
//     except hal/sim/);
//   - tools/build/check-bundle.ts runs the same entries over the bundle that
//     is uploaded, so code that esbuild generated is checked too;
//   - tools/build/device-lib.ts removes the missing built-ins from the
//     standard library that device code is type-checked against.
// Each entry names what fails on 2v29 and what to write instead.

import type { AnyNode } from "acorn";

/** How ESLint enforces an entry in device code. */
export type LintCheck =
  /** `no-restricted-syntax` selectors (ESTree / typescript-eslint AST). */
  | { kind: "syntax"; selectors: readonly string[] }
  /** A whole ESLint rule (a core, typescript-eslint or `espruino/` rule). */
  | { kind: "rule"; rule: string; options?: readonly unknown[] };

/** What the bundle check knows when it looks at one node. */
export interface BundleNodeContext {
  /** The enclosing nodes, outermost first; the node itself is last. */
  ancestors: readonly AnyNode[];
  /** The whole bundle, for checks that look at the text between tokens. */
  source: string;
}

/** A syntax or behaviour the device code must not use. */
export interface SubsetRule {
  /** Short stable name, used in messages and tests. */
  id: string;
  /** The row of espruino.md (or the esbuild behaviour) this enforces. */
  row: string;
  /** What fails on 2v29 and what to write instead. */
  message: string;
  lint: LintCheck;
  /** The same check over an acorn AST of the built bundle. */
  bundle?: (node: AnyNode, context: BundleNodeContext) => boolean;
  /** Why there is no bundle check (then `bundle` is absent). */
  sourceOnly?: string;
}

/** A global that Espruino 2v29 does not have. */
export interface MissingGlobal {
  name: string;
  instead: string;
}

/** A static member of a global that Espruino 2v29 does not have. */
export interface MissingProperty {
  object: string;
  property: string;
  instead: string;
}

// Nodes that only describe a signature: TypeScript erases them, so a rest
// parameter in `type Fn = (...args: unknown[]) => void` never reaches the device.
const TYPE_SIGNATURES =
  "TSFunctionType, TSConstructorType, TSDeclareFunction, TSMethodSignature, " +
  "TSCallSignatureDeclaration, TSConstructSignatureDeclaration, TSEmptyBodyFunctionExpression";

type FunctionNode = Extract<AnyNode, { type: "FunctionDeclaration" | "FunctionExpression" | "ArrowFunctionExpression" }>;

function isFunction(node: AnyNode): node is FunctionNode {
  return node.type === "FunctionDeclaration" || node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression";
}

function isLetOrConst(node: AnyNode | null | undefined): boolean {
  return !!node && node.type === "VariableDeclaration" && (node.kind === "let" || node.kind === "const");
}

// A loop whose head declares a binding that ES2015 would copy per iteration
// (and 2v29 does not).
function bindsPerIteration(node: AnyNode): boolean {
  if (node.type === "ForStatement") return isLetOrConst(node.init);
  if (node.type === "ForOfStatement" || node.type === "ForInStatement") return isLetOrConst(node.left);
  return false;
}

function isNamed(node: AnyNode | null | undefined, name: string): boolean {
  return !!node && node.type === "Identifier" && node.name === name;
}

/** A non-computed member name (`o.name`) or a string key (`o["name"]`). */
export function memberName(node: AnyNode): string | undefined {
  if (node.type !== "MemberExpression") return undefined;
  if (!node.computed && node.property.type === "Identifier") return node.property.name;
  if (node.computed && node.property.type === "Literal" && typeof node.property.value === "string") return node.property.value;
  return undefined;
}

/**
 * The first regular-expression feature in a pattern that Espruino 2v29 does
 * not run (measured: `/^ab?c$/` does not match "ac", `/^a{2}$/` does not
 * match "aa", `(?:`, `(?=`, lazy quantifiers and `\b` fail), or undefined.
 */
export function unsupportedRegexFeature(pattern: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "\\") {
      const next = pattern[i + 1];
      if (!inClass && (next === "b" || next === "B")) return "\\" + next;
      i++;
    } else if (inClass) {
      if (ch === "]") inClass = false;
    } else if (ch === "[") {
      inClass = true;
    } else if (ch === "?") {
      return "?";
    } else if (ch === "{" && /[0-9]/.test(pattern[i + 1] ?? "")) {
      return "{n}";
    }
  }
  return undefined;
}

const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/**
 * The index of the next token after `pos`, skipping white space and comments,
 * and whether a line break lies in between (what automatic semicolon
 * insertion looks at).
 */
export function nextToken(source: string, pos: number): { index: number; afterLineBreak: boolean } {
  let i = pos;
  let afterLineBreak = false;
  while (i < source.length) {
    const ch = source[i];
    if (LINE_TERMINATOR.test(ch)) {
      afterLineBreak = true;
      i++;
    } else if (ch === " " || ch === "\t" || ch === "\v" || ch === "\f" || ch === "\u00a0" || ch === "\ufeff") {
      i++;
    } else if (source.startsWith("//", i)) {
      while (i < source.length && !LINE_TERMINATOR.test(source[i])) i++;
    } else if (source.startsWith("/*", i)) {
      const close = source.indexOf("*/", i + 2);
      const end = close < 0 ? source.length : close + 2;
      if (LINE_TERMINATOR.test(source.slice(i, end))) afterLineBreak = true;
      i = end;
    } else {
      break;
    }
  }
  return { index: i, afterLineBreak };
}

/** The constructs of the "Does NOT run" table, plus the esbuild output that produces them. */
export const syntaxRules: readonly SubsetRule[] = [
  {
    id: "destructuring",
    row: "destructuring `const {a} = o`, `[a, b] = x`",
    message: "Destructuring throws a ReferenceError on Espruino 2v29: read each property or element into its own variable (`const a = o.a`).",
    lint: { kind: "syntax", selectors: ["ObjectPattern", "ArrayPattern"] },
    bundle: (node) => node.type === "ObjectPattern" || node.type === "ArrayPattern",
  },
  {
    id: "spread",
    row: "spread `f(...x)`, `[...x]`, `{...o}`",
    message: "Spread (`...x` in a call, array or object) is a SyntaxError on Espruino 2v29: pass the arguments one by one, copy with a loop, or use Object.assign({}, o).",
    lint: { kind: "syntax", selectors: ["SpreadElement"] },
    bundle: (node) => node.type === "SpreadElement",
  },
  {
    id: "rest",
    row: "rest parameters",
    message: "Rest elements (`...rest` in parameters or patterns) are a SyntaxError on Espruino 2v29: take an array parameter, or read `arguments`.",
    lint: { kind: "syntax", selectors: [`RestElement:not(:matches(${TYPE_SIGNATURES}) > RestElement)`] },
    bundle: (node) => node.type === "RestElement",
  },
  {
    id: "default-parameter",
    row: "default parameters `function f(a, b = 2)`",
    message: "Default values (`b = 2` in parameters or patterns) are a SyntaxError on Espruino 2v29: make the parameter optional and write `if (b === undefined) b = 2;`.",
    lint: { kind: "syntax", selectors: ["AssignmentPattern"] },
    bundle: (node) => node.type === "AssignmentPattern",
  },
  {
    id: "computed-key",
    row: "computed keys `{[k]: v}`",
    message: "Computed keys (`{[k]: v}`, `[k]() {}`) are a SyntaxError on Espruino 2v29: create the object, then assign `o[k] = v`.",
    lint: { kind: "syntax", selectors: [":matches(Property, MethodDefinition, PropertyDefinition)[computed=true]"] },
    bundle: (node) =>
      (node.type === "Property" || node.type === "MethodDefinition" || node.type === "PropertyDefinition") && node.computed,
  },
  {
    id: "exponent",
    row: "`**`",
    message: "`**` and `**=` are a SyntaxError on Espruino 2v29: use Math.pow(a, b), or a multiplication for small integer powers.",
    lint: { kind: "syntax", selectors: ["BinaryExpression[operator='**']", "AssignmentExpression[operator='**=']"] },
    bundle: (node) =>
      (node.type === "BinaryExpression" && node.operator === "**") ||
      (node.type === "AssignmentExpression" && node.operator === "**="),
  },
  {
    id: "label",
    row: "labelled statements, `break label` / `continue label`",
    message: "Labelled statements (`outer: for ...`, `break outer`) throw a ReferenceError on Espruino 2v29: move the inner loop into a function and return, or use a flag.",
    lint: { kind: "syntax", selectors: ["LabeledStatement"] },
    bundle: (node) => node.type === "LabeledStatement",
  },
  {
    id: "optional-chaining",
    row: "optional chaining `a?.b`",
    message: "Optional chaining (`a?.b`, `f?.()`) is a SyntaxError on Espruino 2v29: test first (`a !== undefined ? a.b : undefined`); `??` is fine.",
    lint: { kind: "syntax", selectors: ["ChainExpression"] },
    bundle: (node) => node.type === "ChainExpression",
  },
  {
    id: "async-await",
    row: "`async`/`await`",
    message: "async/await is a SyntaxError on Espruino 2v29: return a Promise and chain `.then()`, or take a callback.",
    lint: { kind: "syntax", selectors: [":function[async=true]", "AwaitExpression", "ForOfStatement[await=true]"] },
    bundle: (node) =>
      (isFunction(node) && node.async) || node.type === "AwaitExpression" || (node.type === "ForOfStatement" && node.await),
  },
  {
    id: "generator",
    row: "generators `function*`",
    message: "Generators (`function*`, `yield`) are a SyntaxError on Espruino 2v29: keep the iteration state in an object with a `next()` method.",
    lint: { kind: "syntax", selectors: [":function[generator=true]", "YieldExpression"] },
    bundle: (node) => (isFunction(node) && node.generator) || node.type === "YieldExpression",
  },
  {
    id: "loop-closure",
    row: "closures that capture a loop's `let`/`const`",
    message: "A function created inside a `for` loop whose head declares `let`/`const`: Espruino 2v29 has no per-iteration binding, so every closure sees the last value. Define the function outside the loop and pass the value in (ESLint's no-loop-func does not catch this).",
    lint: {
      kind: "syntax",
      selectors: [
        "ForStatement[init.kind=/^(let|const)$/] :function",
        "ForOfStatement[left.kind=/^(let|const)$/] :function",
        "ForInStatement[left.kind=/^(let|const)$/] :function",
      ],
    },
    bundle: (node, { ancestors }) => isFunction(node) && ancestors.slice(0, -1).some(bindsPerIteration),
  },
  {
    id: "extends-error",
    row: "`class X extends Error`",
    message: "`class X extends Error` loses `message` on Espruino 2v29 (and `instanceof` after lowering): throw a plain Error with a code in the message, or return an error value.",
    lint: { kind: "syntax", selectors: [":matches(ClassDeclaration, ClassExpression)[superClass.name=/Error$/]"] },
    bundle: (node) =>
      (node.type === "ClassDeclaration" || node.type === "ClassExpression") &&
      !!node.superClass && node.superClass.type === "Identifier" && /Error$/.test(node.superClass.name),
  },
  {
    id: "static-member",
    row: "static methods on a subclass",
    message: "Static class members are not inherited by subclasses on Espruino 2v29 (and esbuild lowers static fields into code after the class): use a plain function or constant next to the class.",
    lint: { kind: "syntax", selectors: [":matches(MethodDefinition, PropertyDefinition, AccessorProperty)[static=true]", "StaticBlock"] },
    bundle: (node) =>
      ((node.type === "MethodDefinition" || node.type === "PropertyDefinition") && node.static) || node.type === "StaticBlock",
  },
  {
    id: "named-class-expression",
    row: "a named class expression referring to its own name",
    message: "A named class expression (`var X = class Y {...}`) fails on Espruino 2v29 when it refers to its own name: use an anonymous class expression or a class declaration.",
    lint: { kind: "syntax", selectors: ["ClassExpression[id]"] },
    bundle: (node) => node.type === "ClassExpression" && !!node.id,
  },
  {
    // Measured with esbuild 0.28 (--bundle, any format): a top-level class
    // whose body names the class is emitted as `var A = class _A {...}`.
    id: "class-self-reference",
    row: "a named class expression referring to its own name (made by esbuild from a class that names itself)",
    message: "This class refers to itself by name; when bundled, esbuild emits it as a named class expression (`var A = class _A {...}`), which fails on Espruino 2v29. Move the code that needs the class into a function declared after the class, or use `this.constructor`.",
    lint: { kind: "rule", rule: "espruino/no-class-self-reference" },
    sourceOnly: "in the bundle this is the named class expression that esbuild made, reported as named-class-expression",
  },
  {
    // Measured with esbuild 0.28 --target=es2015: a subclass with fields and
    // no constructor gets `constructor() { super(...arguments); ... }`.
    id: "subclass-fields-without-constructor",
    row: "spread (made by esbuild for a subclass with fields)",
    message: "A subclass with fields but no constructor: esbuild (target es2015) writes `super(...arguments)` for it, a spread that is a SyntaxError on Espruino 2v29. Write the constructor and call super() with the parameters.",
    lint: {
      kind: "syntax",
      selectors: [
        ":matches(ClassDeclaration, ClassExpression)[superClass] > ClassBody:has(> PropertyDefinition[static!=true][declare!=true]):not(:has(> MethodDefinition[kind='constructor']))",
      ],
    },
    sourceOnly: "in the bundle this is the `super(...arguments)` that esbuild wrote, reported as spread",
  },
  {
    id: "tagged-template",
    row: "tagged templates",
    message: "Tagged templates (tag`...`) are a SyntaxError on Espruino 2v29: call the function with a plain template literal or with arguments.",
    lint: { kind: "syntax", selectors: ["TaggedTemplateExpression"] },
    bundle: (node) => node.type === "TaggedTemplateExpression",
  },
  {
    id: "private-name",
    row: "`Map`/`WeakMap` missing (esbuild lowers `#names` to WeakMap)",
    message: "Private `#names` are lowered by esbuild (target es2015) to WeakMap/WeakSet, which Espruino 2v29 lacks: use TypeScript's `private` keyword.",
    lint: { kind: "syntax", selectors: ["PrivateIdentifier"] },
    // acorn-walk does not visit non-computed keys and member names, so look
    // from the class member and from the member expression.
    bundle: (node) =>
      node.type === "PrivateIdentifier" ||
      ((node.type === "PropertyDefinition" || node.type === "MethodDefinition") && node.key.type === "PrivateIdentifier") ||
      (node.type === "MemberExpression" && node.property.type === "PrivateIdentifier"),
  },
  {
    id: "enum",
    row: "style: numeric constants instead of `enum` objects in device code",
    message: "TypeScript enums become objects (with a reverse mapping) in the bundle, which costs JsVars on the device: use numeric constants (`const REQ = 2`).",
    lint: { kind: "syntax", selectors: ["TSEnumDeclaration"] },
    sourceOnly: "TypeScript syntax: esbuild has already turned it into an object",
  },
  {
    id: "return-line-break",
    row: "`return` followed by a line break",
    message: "`return` followed by a line break: Espruino 2v29 returns the value on the next line. Write `return;` or put the value on the same line.",
    lint: { kind: "rule", rule: "espruino/no-return-line-break" },
    bundle: (node, { source }) => {
      if (node.type !== "ReturnStatement" || node.argument) return false;
      if (source[node.end - 1] === ";") return false;
      const next = nextToken(source, node.end);
      return next.afterLineBreak && next.index < source.length && source[next.index] !== "}";
    },
  },
  {
    id: "use-before-define",
    row: "calling a function declared further down",
    message: "Espruino 2v29 does not hoist declarations, even inside function bodies: define functions, classes and variables before the code that uses them.",
    lint: {
      kind: "rule",
      rule: "no-use-before-define",
      options: [{ functions: true, classes: true, variables: true }],
    },
    sourceOnly: "needs scope analysis; the source files are checked by the lint rule",
  },
  {
    id: "es5-class-helper",
    row: "`Object.setPrototypeOf` on functions (TypeScript's ES5 `__extends` helper throws)",
    message: "`__extends` is TypeScript's ES5 class helper; it throws \"Can't extend undefined\" on Espruino 2v29. Build with esbuild --target=es2015 so classes stay native.",
    lint: { kind: "syntax", selectors: ["Identifier[name='__extends']"] },
    bundle: (node) => isNamed(node, "__extends"),
  },
  {
    id: "array-prototype",
    row: "`Array.prototype.slice` (and `.map`, `.push`; `String.prototype.split`) read as undefined",
    message: "`Array.prototype.x` and `String.prototype.x` read as undefined on Espruino 2v29: call the method on a value (`[].slice.call(args)`, `s.split(\",\")`).",
    lint: { kind: "syntax", selectors: ["MemberExpression[object.name=/^(Array|String)$/][property.name='prototype']"] },
    bundle: (node) =>
      node.type === "MemberExpression" && memberName(node) === "prototype" &&
      (isNamed(node.object, "Array") || isNamed(node.object, "String")),
  },
  {
    id: "json-parse-reviver",
    row: "`JSON.parse` ignores a reviver",
    message: "Espruino 2v29 ignores the reviver of JSON.parse: parse, then convert the fields yourself.",
    lint: { kind: "syntax", selectors: ["CallExpression[callee.object.name='JSON'][callee.property.name='parse'][arguments.length>1]"] },
    bundle: (node) =>
      node.type === "CallExpression" && node.arguments.length > 1 &&
      node.callee.type === "MemberExpression" && isNamed(node.callee.object, "JSON") && memberName(node.callee) === "parse",
  },
  {
    id: "regex-feature",
    row: "regular expressions (measured on 2v29, beyond the table)",
    message: "Espruino 2v29's regular expressions have no `?` quantifier (so no `(?:`, lookahead or lazy `+?`), no `{n,m}` counts and no `\\b`: write the alternatives out (`(D[0-9]|D[1-3][0-9])`), or check the length in code.",
    lint: { kind: "rule", rule: "espruino/no-unsupported-regex" },
    bundle: (node) => node.type === "Literal" && "regex" in node && !!node.regex && unsupportedRegexFeature(node.regex.pattern) !== undefined,
  },
  {
    id: "sort-comparator",
    row: "`Array.prototype.sort` is NOT stable",
    message: "sort() is not stable on Espruino 2v29: always pass a comparator, and make it break ties (e.g. by index or id).",
    lint: { kind: "syntax", selectors: ["CallExpression[callee.property.name='sort'][arguments.length=0]"] },
    bundle: (node) =>
      node.type === "CallExpression" && node.arguments.length === 0 &&
      node.callee.type === "MemberExpression" && memberName(node.callee) === "sort",
  },
];

/** Globals that are not there on 2v29 (espruino.md, "Built-ins"). */
export const missingGlobals: readonly MissingGlobal[] = [
  { name: "Map", instead: "use an object with string keys, or two arrays (keys, values)" },
  { name: "Set", instead: "use an object with string keys, or an array and indexOf()" },
  { name: "WeakMap", instead: "store the value on the object itself" },
  { name: "WeakSet", instead: "mark the object itself" },
  { name: "Symbol", instead: "use string keys" },
  { name: "TextEncoder", instead: "strings are byte strings: encode UTF-8 by hand, or keep wire identifiers ASCII" },
  { name: "TextDecoder", instead: "strings are byte strings: decode UTF-8 by hand, or keep wire identifiers ASCII" },
  // Not in the measured list of present built-ins; esbuild's helpers for
  // lowered `super.x` in class fields reach for Reflect.
  { name: "Proxy", instead: "write the forwarding by hand" },
  { name: "Reflect", instead: "use Object.keys / Object.defineProperty and plain property access" },
];

/** The typed array constructors; their static `from` and `of` are missing. */
export const TYPED_ARRAYS: readonly string[] = [
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
  "Int32Array", "Uint32Array", "Float32Array", "Float64Array",
];

/** Static members of globals that are not there on 2v29 (espruino.md, "Built-ins"). */
export const missingProperties: readonly MissingProperty[] = [
  { object: "Math", property: "imul", instead: "multiply 16-bit halves, or keep values small enough for a plain `*`" },
  { object: "Math", property: "trunc", instead: "use `x < 0 ? Math.ceil(x) : Math.floor(x)`, or `x | 0` for 32-bit values" },
  { object: "Math", property: "fround", instead: "store into a Float32Array and read it back" },
  { object: "Math", property: "clz32", instead: "count the leading zeros with a loop" },
  { object: "Number", property: "isInteger", instead: "use `typeof x === \"number\" && Math.floor(x) === x`" },
  { object: "Number", property: "isFinite", instead: "use `typeof x === \"number\" && x - x === 0`" },
  { object: "Object", property: "freeze", instead: "do not rely on immutability at run time; use `readonly` types" },
  { object: "Object", property: "setPrototypeOf", instead: "use native `class ... extends` (esbuild target es2015)" },
  { object: "Object", property: "getOwnPropertySymbols", instead: "there is no Symbol: use Object.keys" },
  { object: "Array", property: "from", instead: "copy with a loop, or `[].slice.call(arrayLike)`" },
  { object: "ArrayBuffer", property: "isView", instead: "test `x instanceof Uint8Array` (or the type you expect)" },
  ...TYPED_ARRAYS.flatMap((name) => [
    { object: name, property: "from", instead: `use \`new ${name}(length)\` and fill it, or \`new ${name}(array)\`` },
    { object: name, property: "of", instead: `use \`new ${name}([a, b])\`` },
  ]),
];

/** The lint message for a missing global. */
export function missingGlobalMessage(global: MissingGlobal): string {
  return `${global.name} does not exist on Espruino 2v29: ${global.instead}.`;
}

/** The lint message for a missing static member. */
export function missingPropertyMessage(missing: MissingProperty): string {
  return `${missing.object}.${missing.property} does not exist on Espruino 2v29: ${missing.instead}.`;
}

/** A method of instances that exists on 2v29 but does something else. */
export interface BrokenMember {
  /** The interface of the instances (Uint8Array, ...). */
  type: string;
  member: string;
  why: string;
}

/**
 * Measured on 2v29 (beyond espruino.md): `typedArray.slice()` returns a plain
 * Array (no `.buffer`, not a Uint8Array), so a DataView over it throws. These
 * are removed from the device library, so using them is a type error.
 */
export const brokenMembers: readonly BrokenMember[] = TYPED_ARRAYS.map((type) => ({
  type,
  member: "slice",
  why: `returns a plain Array on Espruino 2v29: copy with \`new ${type}(n)\` and \`.set(a.subarray(start, end))\`, or use \`.subarray()\``,
}));
