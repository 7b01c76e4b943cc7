// A pass over terser's output: 2v29 does not hoist `var` (measured:
// `function f(){i=5;var i}` sets a global i). Where terser inlines a
// function that uses a parameter more than once, it writes the parameter as
// a variable declared after its use, `(s=e)>32?s-32:0;var s;`: on the board
// that use writes a variable of an outer scope, and with the built-ins as
// locals of the bundle (tools/build/global-alias.ts) it hit one of those
// constants and every frame from the server threw. This pass moves such a
// declaration (a `var` without a value) to the top of its function, where
// JavaScript has it anyway. The bundle check refuses any it leaves.

import { parse, type AnyNode, type Program } from "acorn";
import { fullAncestor } from "acorn-walk";
import { isFunction, varsUsedBeforeDeclaration } from "./check-bundle";

/** code with every `var` that follows a use of its names moved to the top of its function. */
export function hoistLateVars(code: string): string {
  const ast = parse(code, { ecmaVersion: 2020, sourceType: "script" }) as Program;
  const late = varsUsedBeforeDeclaration(ast);
  if (late.length === 0) return code;
  const namesIn = new Map<AnyNode, Set<string>>();
  for (const u of late) namesIn.set(u.fn, (namesIn.get(u.fn) ?? new Set()).add(u.name));
  const edits: { start: number; end: number; text: string }[] = [];
  const moved = new Map<AnyNode, string[]>();
  fullAncestor(ast, (node, _state, ancestors) => {
    if (node.type !== "VariableDeclaration" || node.kind !== "var") return;
    let fn: AnyNode = ast;
    for (let i = ancestors.length - 2; i >= 0; i--) {
      if (isFunction(ancestors[i])) {
        fn = ancestors[i];
        break;
      }
    }
    const names = namesIn.get(fn);
    if (!names || !node.declarations.some((d) => d.id.type === "Identifier" && names.has(d.id.name))) return;
    const parent = ancestors[ancestors.length - 2];
    if (node.declarations.some((d) => d.init || d.id.type !== "Identifier") || parent.type.startsWith("For")) {
      throw new Error(`hoist-vars: a var after its use at ${node.start} that cannot be moved (it has a value, or heads a loop): ${code.slice(node.start, node.end)}`);
    }
    // An empty statement stays in its place (the declaration may be the body of an if).
    edits.push({ start: node.start, end: node.end, text: ";" });
    moved.set(fn, [...(moved.get(fn) ?? []), ...node.declarations.map((d) => (d.id as { name: string }).name)]);
  });
  for (const [fn, names] of moved) {
    const body = fn.type === "Program" ? fn : (fn as { body: AnyNode }).body;
    if (body.type !== "BlockStatement" && body.type !== "Program") throw new Error(`hoist-vars: the function at ${fn.start} has no block to declare ${names.join(", ")} in`);
    const at = body.type === "Program" ? body.start : body.start + 1;
    edits.push({ start: at, end: at, text: "var " + names.join(",") + ";" });
  }
  let out = code;
  for (const e of edits.sort((a, b) => b.start - a.start || b.end - a.end)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  const left = varsUsedBeforeDeclaration(parse(out, { ecmaVersion: 2020, sourceType: "script" }) as Program);
  if (left.length) throw new Error(`hoist-vars: ${left.map((u) => u.name).join(", ")} still used before a var`);
  return out;
}
