// Writes build/types/espruino-lib.d.ts: the standard library that device code
// is type-checked against (tsconfig.device.json has noLib and includes it).
// It is made from the installed TypeScript's own lib files, minus what
// Espruino 2v29 lacks (tools/build/subset.ts: missingGlobals,
// missingProperties), so `Math.trunc(x)` in firmware/ is a type error rather
// than a crash on the board. Usage: tsx tools/build/device-lib.ts

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { brokenMembers, missingGlobals, missingProperties, TYPED_ARRAYS } from "./subset";

/** Where `npm run typecheck` puts the generated library. */
export const DEVICE_LIB_PATH = fileURLToPath(new URL("../../build/types/espruino-lib.d.ts", import.meta.url));

// The declarations of lib.es2015.iterable.d.ts that `for...of` over arrays
// and typed arrays needs. The rest of that file is Map, Set, WeakMap, String
// iteration, the iterable overloads of constructors and entries/keys/values
// (not measured on 2v29, so left out).
const ITERATOR_PROTOCOL = new Set([
  "IteratorYieldResult", "IteratorReturnResult", "IteratorResult", "Iterator",
  "IteratorObject", "BuiltinIteratorReturn", "ArrayIterator",
]);
const ITERABLE_BUILTINS = new Set(["Array", "ReadonlyArray", ...TYPED_ARRAYS]);
const ITERATOR_MEMBER = "[Symbol.iterator]";

interface LibPart {
  file: string;
  /** What Espruino 2v29 has from it (espruino.md, "Present"). */
  why: string;
  /** When set, keep only the top-level declarations it accepts (by name). */
  only?: (name: string) => boolean;
  /** Keep only these members of a kept interface; default all. */
  onlyMembers?: (interfaceName: string, member: string) => boolean;
}

const LIB_PARTS: readonly LibPart[] = [
  { file: "lib.es5.d.ts", why: "the core language, typed arrays, DataView, JSON, Date" },
  { file: "lib.es2015.core.d.ts", why: "Array find/findIndex/fill, Object.assign, String startsWith/repeat" },
  { file: "lib.es2015.promise.d.ts", why: "Promise" },
  {
    file: "lib.es2015.iterable.d.ts",
    why: "only the iterator protocol, for `for...of` over arrays and typed arrays",
    only: (name) => ITERATOR_PROTOCOL.has(name) || ITERABLE_BUILTINS.has(name),
    onlyMembers: (interfaceName, member) => !ITERABLE_BUILTINS.has(interfaceName) || member === ITERATOR_MEMBER,
  },
  { file: "lib.es2016.array.include.d.ts", why: "Array and typed array includes" },
  { file: "lib.es2017.object.d.ts", why: "Object.values/entries" },
  { file: "lib.es2017.string.d.ts", why: "String padStart/padEnd" },
];

// Espruino 2v29 has no Symbol, but TypeScript (target ES2015) type-checks
// `for...of` by looking up the global value `Symbol`, reading the type of its
// `iterator` member, and finding the array member named by that unique
// symbol. Without a global `Symbol`, no declaration can name that member and
// `for (const x of array)` fails to compile. The least-bad way out: declare
// Symbol as a class that can be neither called, constructed nor read
// (private constructor, private static `iterator`). The checker reads the
// private member internally; device code writing `Symbol()`, `new Symbol()`
// or `Symbol.iterator` gets a type error, and any other use (`typeof Symbol`)
// is caught by the lint rule and the bundle check (missing-global). The
// lib's own `[Symbol.iterator]` members carry a @ts-ignore for that access.
const SYMBOL_STUB = `// Not Espruino's Symbol (it has none): a stub that lets TypeScript type-check
// for...of over arrays and typed arrays. See tools/build/device-lib.ts.
declare class Symbol {
    private constructor();
    private static readonly iterator: unique symbol;
}
`;

const ITERATOR_IGNORE = "// @ts-ignore -- reads the private stub Symbol.iterator (top of this file)\n    ";

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The name a top-level statement declares, if any. */
function statementName(statement: ts.Statement): string | undefined {
  if (ts.isVariableStatement(statement)) {
    const first = statement.declarationList.declarations[0];
    return first && ts.isIdentifier(first.name) ? first.name.text : undefined;
  }
  if (
    ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) || ts.isModuleDeclaration(statement) ||
    ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isEnumDeclaration(statement)
  ) {
    return statement.name && ts.isIdentifier(statement.name) ? statement.name.text : undefined;
  }
  return undefined;
}

/** `trunc` for a method, `[Symbol.iterator]` for a computed name. */
function memberKey(member: ts.TypeElement, sourceFile: ts.SourceFile): string | undefined {
  const name = member.name;
  if (!name) return undefined;
  if (ts.isComputedPropertyName(name)) return name.getText(sourceFile);
  if (ts.isIdentifier(name) || ts.isStringLiteral(name)) return name.text;
  return undefined;
}

/** Whether a statement makes a value (not only a type) named `name`. */
function declaresValue(statement: ts.Statement, name: string): boolean {
  if (ts.isVariableStatement(statement)) {
    return statement.declarationList.declarations.some((d) => ts.isIdentifier(d.name) && d.name.text === name);
  }
  if (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isModuleDeclaration(statement) || ts.isEnumDeclaration(statement)) {
    return statementName(statement) === name;
  }
  return false;
}

function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  let limit = text.length;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    if (edit.end > limit) throw new Error("device-lib: overlapping edits");
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    limit = edit.start;
  }
  return out;
}

/**
 * A declaration with its doc comment and its own line(s). Not its full
 * start: for the first statement of a file, that is the licence header.
 */
function removal(node: ts.Node, sourceFile: ts.SourceFile): Edit {
  const text = sourceFile.text;
  let start = node.getStart(sourceFile, true);
  while (start > 0 && (text[start - 1] === " " || text[start - 1] === "\t")) start--;
  let end = node.getEnd();
  if (text[end] === "\r") end++;
  if (text[end] === "\n") end++;
  return { start, end, text: "" };
}

/** The whole line(s) holding [pos, end), line break included. */
function lineRange(sourceFile: ts.SourceFile, pos: number, end: number): Edit {
  const first = sourceFile.getLineAndCharacterOfPosition(pos).line;
  const last = sourceFile.getLineAndCharacterOfPosition(end).line;
  const start = sourceFile.getPositionOfLineAndCharacter(first, 0);
  const lineStarts = sourceFile.getLineStarts();
  const stop = last + 1 < lineStarts.length ? lineStarts[last + 1] : sourceFile.text.length;
  return { start, end: stop, text: "" };
}

function parseLib(libDir: string, file: string): ts.SourceFile {
  const text = readFileSync(join(libDir, file), "utf8");
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
}

// For `Math.trunc`, the interface to edit is the type of `declare var Math`:
// Math for Math, NumberConstructor for Number, Uint8ArrayConstructor ...
function constructorInterfaces(files: readonly ts.SourceFile[]): Map<string, string> {
  const types = new Map<string, string>();
  for (const sourceFile of files) {
    for (const statement of sourceFile.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      for (const d of statement.declarationList.declarations) {
        if (ts.isIdentifier(d.name) && d.type && ts.isTypeReferenceNode(d.type) && ts.isIdentifier(d.type.typeName)) {
          types.set(d.name.text, d.type.typeName.text);
        }
      }
    }
  }
  return types;
}

/** The device library's text, from the lib files of the TypeScript that is installed. */
export function buildDeviceLib(): string {
  const libDir = dirname(ts.getDefaultLibFilePath({}));
  const files = LIB_PARTS.map((part) => parseLib(libDir, part.file));
  const interfaceOf = constructorInterfaces(files);

  // interface name -> member name -> the `Object.member` it stands for
  const removals = new Map<string, Map<string, string>>();
  for (const p of missingProperties) {
    const iface = interfaceOf.get(p.object);
    if (!iface) throw new Error(`device-lib: no \`declare var ${p.object}\` in the TypeScript ${ts.version} lib files`);
    if (!removals.has(iface)) removals.set(iface, new Map());
    removals.get(iface)?.set(p.property, `${p.object}.${p.property}`);
  }
  for (const b of brokenMembers) {
    if (!removals.has(b.type)) removals.set(b.type, new Map());
    removals.get(b.type)?.set(b.member, `${b.type}.prototype.${b.member}`);
  }
  const removed = new Set<string>();
  const missingGlobalNames = missingGlobals.map((g) => g.name);

  const sections = LIB_PARTS.map((part, index) => {
    const sourceFile = files[index];
    const edits: Edit[] = sourceFile.libReferenceDirectives.map((ref) => lineRange(sourceFile, ref.pos, ref.end));
    for (const statement of sourceFile.statements) {
      const name = statementName(statement) ?? "";
      const dropStatement = (part.only && !part.only(name)) || missingGlobalNames.some((g) => declaresValue(statement, g));
      if (dropStatement) {
        edits.push(removal(statement, sourceFile));
        continue;
      }
      if (!ts.isInterfaceDeclaration(statement)) continue;
      for (const member of statement.members) {
        const key = memberKey(member, sourceFile) ?? "";
        const missing = removals.get(name)?.get(key);
        if (missing) removed.add(missing);
        if (missing || (part.onlyMembers && !part.onlyMembers(name, key))) {
          edits.push(removal(member, sourceFile));
        } else if (key === ITERATOR_MEMBER) {
          edits.push({ start: member.getStart(sourceFile), end: member.getStart(sourceFile), text: ITERATOR_IGNORE });
        }
      }
    }
    // Removed members leave their blank lines behind; fold them.
    const trimmed = applyEdits(sourceFile.text, edits).replace(/\n(\s*\n){2,}/g, "\n\n");
    return `// ---- ${part.file}: ${part.why} ----\n${trimmed}`;
  });

  // A lib update that renames a member must not silently keep it.
  const notFound = [...missingProperties.map((p) => `${p.object}.${p.property}`), ...brokenMembers.map((b) => `${b.type}.prototype.${b.member}`)].filter(
    (k) => !removed.has(k),
  );
  if (notFound.length > 0) {
    throw new Error(`device-lib: not found in the TypeScript ${ts.version} lib files, so not removed: ${notFound.join(", ")}`);
  }

  return [
    `// Generated by tools/build/device-lib.ts from the lib files of TypeScript ${ts.version}. Do not edit;`,
    "// `npm run typecheck` writes it again. The standard library of Espruino 2v29:",
    `// removed: ${[...removed].join(", ")};`,
    `// not declared: ${missingGlobalNames.join(", ")}.`,
    '/// <reference no-default-lib="true"/>',
    "",
    SYMBOL_STUB,
    ...sections,
  ].join("\n");
}

function main(): void {
  const text = buildDeviceLib();
  mkdirSync(dirname(DEVICE_LIB_PATH), { recursive: true });
  writeFileSync(DEVICE_LIB_PATH, text);
  console.log(`device lib: ${DEVICE_LIB_PATH} (${text.length} bytes, TypeScript ${ts.version})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
