// A last pass over the minified bundle: in a function that says `this` many
// times, `this` becomes a one-letter local (`let t=this;` once at the top).
// Neither esbuild nor terser does it (terser would even undo it), and the
// firmware's classes say `this.` about 1,500 times: four bytes each.
//
// Safe by construction:
//   - only non-arrow functions get an alias; arrow functions inside them
//     see the same `this`, so their uses are rewritten too, and a nested
//     non-arrow function keeps its own `this`;
//   - the alias is a name that no identifier inside the function has (no
//     variable or parameter of that name), so it shadows nothing the
//     function reads;
//   - the bundle has no derived classes (a `this` before super() would
//     throw): the pass refuses a bundle with `super`.
// On the board the alias is one more local per call, gone when it returns.

import * as acorn from "acorn";
import * as walk from "acorn-walk";

type Node = acorn.Node & { [key: string]: unknown };

/** One-letter names the alias may take, the most common first. */
const NAMES = "tseinoarlcdfhupmgbvywkxjqzTSEINOARLCDFHUPMGBVYWKXJQZ_$";

interface Candidate {
  /** Where the body's `{` is. */
  bodyStart: number;
  /** Where the names of the body's first statement start, when it is a `let` declaration (else -1). */
  firstLet: number;
  start: number;
  end: number;
  uses: number[];
}

function isFunction(n: Node): boolean {
  return n.type === "FunctionDeclaration" || n.type === "FunctionExpression";
}

/**
 * Rewrites `code` with an alias for `this` wherever that makes it shorter;
 * returns the new code (the same when nothing is worth it).
 */
export function aliasThis(code: string): string {
  const ast = acorn.parse(code, { ecmaVersion: 2020, sourceType: "script" }) as unknown as Node;
  const candidates: Candidate[] = [];
  const stack: Candidate[] = [];
  let hasSuper = false;
  // Every `this` belongs to the innermost enclosing non-arrow function.
  const visit = (n: Node): void => {
    if (n.type === "Super") hasSuper = true;
    const fn = isFunction(n);
    if (fn) {
      const body = n.body as Node;
      const first = (body.body as Node[])[0];
      const firstLet = first && first.type === "VariableDeclaration" && first.kind === "let" ? (first.declarations as Node[])[0].start : -1;
      const c: Candidate = { bodyStart: body.start, firstLet, start: n.start, end: n.end, uses: [] };
      candidates.push(c);
      stack.push(c);
    }
    if (n.type === "ThisExpression" && stack.length > 0) stack[stack.length - 1].uses.push(n.start);
    for (const key of Object.keys(n)) {
      const v = n[key];
      if (Array.isArray(v)) {
        for (const x of v) if (x && typeof (x as Node).type === "string") visit(x as Node);
      } else if (v && typeof (v as Node).type === "string") visit(v as Node);
    }
    if (fn) stack.pop();
  };
  visit(ast);
  if (hasSuper) throw new Error("this-alias: the bundle has a derived class; aliasing `this` before super() would break it");

  // Names in each function: every identifier, property and label inside it.
  const names: { pos: number; name: string }[] = [];
  walk.full(ast, (n) => {
    const x = n as Node;
    if (x.type === "Identifier" || x.type === "PrivateIdentifier") names.push({ pos: x.start, name: x.name as string });
  });

  const edits: { pos: number; del: number; text: string }[] = [];
  for (const c of candidates) {
    if (c.uses.length === 0) continue;
    const used = new Set<string>();
    for (const x of names) if (x.pos >= c.start && x.pos < c.end) used.add(x.name);
    let alias = "";
    for (const ch of NAMES) {
      if (!used.has(ch)) {
        alias = ch;
        break;
      }
    }
    if (alias === "") continue;
    // Joined to a `let` that opens the body (`let t=this,e=t.a`: initialised
    // in order, so what follows may use it), else a declaration of its own.
    const decl = c.firstLet >= 0 ? alias + "=this," : "let " + alias + "=this;";
    // Each use saves 3 bytes ("this" -> one letter); the declaration costs its length.
    if (c.uses.length * 3 <= decl.length) continue;
    edits.push({ pos: c.firstLet >= 0 ? c.firstLet : c.bodyStart + 1, del: 0, text: decl });
    for (const u of c.uses) edits.push({ pos: u, del: 4, text: alias });
  }
  // From the end, so positions hold; at one position the replacement of a
  // `this` goes before the declaration is inserted in front of it.
  edits.sort((a, b) => b.pos - a.pos || b.del - a.del);
  let out = code;
  for (const e of edits) out = out.slice(0, e.pos) + e.text + out.slice(e.pos + e.del);
  return out;
}
