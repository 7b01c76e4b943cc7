// The last gate before a bundle goes to a board: parse the built file as
// Espruino will get it and look for every construct of the subset
// (tools/build/subset.ts) that 2v29 cannot run, including the ones esbuild
// wrote itself. Usage: tsx tools/build/check-bundle.ts build/router.js

import { parse, type AnyNode, type Program } from "acorn";
import { fullAncestor } from "acorn-walk";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import {
  memberName,
  missingGlobalMessage,
  missingGlobals,
  missingProperties,
  missingPropertyMessage,
  syntaxRules,
  type BundleNodeContext,
  type MissingProperty,
} from "./subset";

/** One thing in the bundle that 2v29 cannot run. Line and column are 1-based. */
export interface Problem {
  line: number;
  column: number;
  /** A subset.ts id, or "parse", "non-ascii", "missing-global", "missing-property". */
  rule: string;
  message: string;
}

const missingGlobalByName = new Map(missingGlobals.map((g) => [g.name, g]));
const missingPropertyByKey = new Map<string, MissingProperty>(missingProperties.map((p) => [`${p.object}.${p.property}`, p]));
const bundleRules = syntaxRules.filter((r) => r.bundle);

// Espruino reads the upload as bytes; a non-ASCII character in a string
// or an identifier does not survive (espruino.md: strings are byte strings).
function findNonAscii(source: string, problems: Problem[]): void {
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < source.length) {
    const code = source.charCodeAt(i);
    if (code === 10) {
      line++;
      lineStart = i + 1;
      i++;
    } else if (code > 0x7f) {
      const start = i;
      while (i < source.length && source.charCodeAt(i) > 0x7f) i++;
      problems.push({
        line,
        column: start - lineStart + 1,
        rule: "non-ascii",
        message: `${i - start} non-ASCII character(s): Espruino strings are byte strings; keep the bundle ASCII (escape them, or encode UTF-8 by hand).`,
      });
    } else {
      i++;
    }
  }
}

function addPatternNames(pattern: AnyNode | null | undefined, names: Set<string>): void {
  if (!pattern) return;
  switch (pattern.type) {
    case "Identifier":
      names.add(pattern.name);
      break;
    case "ObjectPattern":
      for (const p of pattern.properties) addPatternNames(p.type === "Property" ? p.value : p, names);
      break;
    case "ArrayPattern":
      for (const e of pattern.elements) addPatternNames(e, names);
      break;
    case "RestElement":
      addPatternNames(pattern.argument, names);
      break;
    case "AssignmentPattern":
      addPatternNames(pattern.left, names);
      break;
  }
}

// Names the bundle declares anywhere. A reference to `Map` is a missing
// built-in only when no scope of the bundle declares its own `Map`; being
// coarser than real scoping errs on the side of silence for odd code, and
// minified bundles rename their locals anyway.
export function declaredNames(ast: Program): Set<string> {
  const names = new Set<string>();
  fullAncestor(ast, (node) => {
    switch (node.type) {
      case "VariableDeclarator":
        addPatternNames(node.id, names);
        break;
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        addPatternNames(node.id, names);
        for (const p of node.params) addPatternNames(p, names);
        break;
      case "ClassDeclaration":
      case "ClassExpression":
        addPatternNames(node.id, names);
        break;
      case "CatchClause":
        addPatternNames(node.param, names);
        break;
    }
  });
  return names;
}

type FunctionNode = Extract<AnyNode, { type: "FunctionDeclaration" | "FunctionExpression" | "ArrowFunctionExpression" }>;

export function isFunction(n: AnyNode): n is FunctionNode {
  return n.type === "FunctionDeclaration" || n.type === "FunctionExpression" || n.type === "ArrowFunctionExpression";
}

/**
 * Names used before the `var` that declares them in their function, there
 * or in a function inside it. 2v29 does not hoist `var` (measured:
 * `function f(){i=5;var i}` sets a global i), so such a use reads or writes
 * a variable of an outer scope, unless the `var` has run by then (a
 * function inside may be called later: counted all the same). terser writes
 * this when it inlines a function with parameters (`(i=x)>32?i-32:0;var i`):
 * the build moves such a declaration to the top of its function
 * (tools/build/hoist-vars.ts), and this finds any it could not move.
 * fn: the function whose `var` it is.
 */
export function varsUsedBeforeDeclaration(ast: Program): { node: AnyNode; name: string; fn: AnyNode }[] {
  const vars = new Map<AnyNode, Map<string, number>>();
  // Names a function binds otherwise: parameters, let, const, class, function, catch.
  const bound = new Map<AnyNode, Set<string>>();
  const uses: { chain: AnyNode[]; node: AnyNode; name: string }[] = [];
  const functions = (ancestors: AnyNode[]): AnyNode[] => [...ancestors.filter(isFunction).reverse(), ast];
  const bind = (fn: AnyNode, names: Set<string>): void => {
    const set = bound.get(fn) ?? new Set<string>();
    for (const n of names) set.add(n);
    bound.set(fn, set);
  };
  fullAncestor(ast, (node, _state, ancestors) => {
    const outer = ancestors.slice(0, -1);
    const names = new Set<string>();
    if (isFunction(node)) {
      for (const p of node.params) addPatternNames(p, names);
      bind(node, names);
      if (node.type === "FunctionDeclaration" && node.id) bind(functions(outer)[0], new Set([node.id.name]));
    } else if (node.type === "VariableDeclaration") {
      for (const d of node.declarations) addPatternNames(d.id, names);
      const fn = functions(outer)[0];
      if (node.kind !== "var") bind(fn, names);
      else {
        const at = vars.get(fn) ?? new Map<string, number>();
        for (const name of names) if (!at.has(name)) at.set(name, node.start);
        vars.set(fn, at);
      }
    } else if (node.type === "ClassDeclaration" && node.id) bind(functions(outer)[0], new Set([node.id.name]));
    else if (node.type === "CatchClause") {
      addPatternNames(node.param, names);
      bind(functions(outer)[0], names);
    } else if (node.type === "Identifier") uses.push({ chain: functions(outer), node, name: node.name });
  });
  const found: { node: AnyNode; name: string; fn: AnyNode }[] = [];
  for (const u of uses) {
    // The function whose binding the name is: the innermost that binds it.
    for (const fn of u.chain) {
      const at = vars.get(fn)?.get(u.name);
      if (at !== undefined) {
        if (u.node.start < at && !bound.get(fn)?.has(u.name)) found.push({ node: u.node, name: u.name, fn });
        break;
      }
      if (bound.get(fn)?.has(u.name)) break;
    }
  }
  return found;
}

/**
 * `var` declarations inside a block (or in the head of a loop inside
 * one). 2v29 makes the variable when the statement runs, so a use in
 * another branch reads or writes an outer variable (measured:
 * `if(a){var s=1}else{s=2}` set a global s).
 */
export function varsInBlocks(ast: Program): AnyNode[] {
  const found: AnyNode[] = [];
  fullAncestor(ast, (node, _state, ancestors) => {
    if (node.type !== "VariableDeclaration" || node.kind !== "var") return;
    // A loop's head runs when the loop does: where the loop stands is what counts.
    const up = ancestors.length - 2 - (ancestors[ancestors.length - 2].type.startsWith("For") ? 1 : 0);
    const parent = ancestors[up];
    const grand = ancestors[up - 1];
    if (parent.type === "Program" || (parent.type === "BlockStatement" && grand && isFunction(grand))) return;
    found.push(node);
  });
  return found;
}

function at(node: AnyNode, rule: string, message: string): Problem {
  const start = node.loc ? node.loc.start : { line: 1, column: node.start };
  return { line: start.line, column: start.column + 1, rule, message };
}

/** Every construct in `source` that Espruino 2v29 cannot run, in source order. */
export function checkBundle(source: string): Problem[] {
  const problems: Problem[] = [];
  findNonAscii(source, problems);
  let ast: Program;
  try {
    ast = parse(source, { ecmaVersion: "latest", sourceType: "script", locations: true });
  } catch (e) {
    const err = e as SyntaxError & { loc?: { line: number; column: number } };
    const loc = err.loc ?? { line: 1, column: 0 };
    problems.push({ line: loc.line, column: loc.column + 1, rule: "parse", message: `not a valid script (Espruino loads no modules): ${err.message}` });
    return problems;
  }
  const declared = declaredNames(ast);
  fullAncestor(ast, (node, _state, ancestors) => {
    const context: BundleNodeContext = { ancestors, source };
    for (const rule of bundleRules) {
      if (rule.bundle?.(node, context)) problems.push(at(node, rule.id, rule.message));
    }
    // acorn-walk visits identifiers only where they are read or bound, never
    // as property names or labels, so any visited `Map` is the global one
    // unless the bundle declares its own.
    if (node.type === "Identifier" && !declared.has(node.name)) {
      const missing = missingGlobalByName.get(node.name);
      if (missing) problems.push(at(node, "missing-global", missingGlobalMessage(missing)));
    }
    if (node.type === "MemberExpression" && node.object.type === "Identifier" && !declared.has(node.object.name)) {
      const missing = missingPropertyByKey.get(`${node.object.name}.${memberName(node)}`);
      if (missing) problems.push(at(node, "missing-property", missingPropertyMessage(missing)));
    }
  });
  for (const v of varsInBlocks(ast)) {
    problems.push(at(v, "var-in-block", "a `var` inside a block: Espruino 2v29 makes it only when the statement runs, so a use elsewhere in the function reads or writes a variable of an outer scope; declare it at the top of the function, or use let."));
  }
  for (const u of varsUsedBeforeDeclaration(ast)) {
    problems.push(at(u.node, "var-before-declaration", `${u.name} is used before its \`var\` in the same function: Espruino 2v29 does not hoist var, so this use reads or writes a variable of an outer scope (or a global); declare it before its first use.`));
  }
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** A short piece of the line around a problem, since minified bundles are one long line. */
function excerpt(source: string, problem: Problem): string {
  const lines = source.split("\n");
  const text = lines[problem.line - 1] ?? "";
  const from = Math.max(0, problem.column - 1 - 30);
  return text.slice(from, problem.column - 1 + 50).replace(/[^\x20-\x7e]/g, "?");
}

function main(args: string[]): number {
  const file = args[0];
  if (!file) {
    console.error("usage: tsx tools/build/check-bundle.ts <bundle.js>");
    return 2;
  }
  const bytes = readFileSync(file);
  const source = bytes.toString("utf8");
  const problems = checkBundle(source);
  if (problems.length === 0) {
    console.log(`bundle ok: ${bytes.length} bytes, ASCII, no forbidden constructs`);
    return 0;
  }
  for (const p of problems) {
    console.log(`${file}:${p.line}:${p.column}: ${p.message} [${p.rule}]`);
    console.log(`    near: ${excerpt(source, p)}`);
  }
  console.log(`${problems.length} problem(s) in ${file}`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
