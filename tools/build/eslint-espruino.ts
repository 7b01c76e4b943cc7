// The ESLint side of the Espruino subset: a local plugin for the two checks
// that selectors cannot express, and the rule settings that eslint.config.js
// gives each area of device code. Everything here is derived from
// tools/build/subset.ts; no construct is listed twice.

import type { ESLint, Linter, Rule, Scope } from "eslint";
import type * as ESTree from "estree";
import {
  missingGlobalMessage,
  missingGlobals,
  missingProperties,
  missingPropertyMessage,
  syntaxRules,
  unsupportedRegexFeature,
  type SubsetRule,
} from "./subset";

function subsetMessage(id: string): string {
  const rule = syntaxRules.find((r) => r.id === id);
  if (!rule) throw new Error(`eslint-espruino: no subset rule "${id}"`);
  return rule.message;
}

// Espruino evaluates `return` and then the next line as its value, where
// JavaScript's automatic semicolon insertion ends the statement.
const noReturnLineBreak: Rule.RuleModule = {
  meta: {
    type: "problem",
    docs: { description: "Disallow `return` followed by a line break (Espruino returns the next line's value)" },
    schema: [],
    messages: { lineBreak: subsetMessage("return-line-break") },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    return {
      ReturnStatement(node) {
        if (node.argument) return;
        const last = sourceCode.getLastToken(node);
        if (!last || last.value === ";") return;
        const next = sourceCode.getTokenAfter(node);
        if (!next || next.value === "}") return;
        if (next.loc.start.line > last.loc.end.line) context.report({ node, messageId: "lineBreak" });
      },
    };
  },
};

// Espruino's own regular expression engine lacks several features.
const noUnsupportedRegex: Rule.RuleModule = {
  meta: {
    type: "problem",
    docs: { description: "Disallow regular expression features that Espruino 2v29 does not run" },
    schema: [],
    messages: { regex: subsetMessage("regex-feature") + " (found {{feature}})" },
  },
  create(context) {
    return {
      Literal(node) {
        const regex = (node as ESTree.RegExpLiteral).regex;
        if (!regex) return;
        const feature = unsupportedRegexFeature(regex.pattern);
        if (feature !== undefined) context.report({ node, messageId: "regex", data: { feature } });
      },
    };
  },
};

type ClassNode = ESTree.ClassDeclaration | ESTree.ClassExpression;

// typescript-eslint marks references that only name a type (`clone(): Meter`);
// those are erased and never reach the bundle. Core ESLint has no such flag.
function isTypeOnly(reference: Scope.Reference): boolean {
  const flags = reference as Scope.Reference & { isValueReference?: boolean };
  return flags.isValueReference === false;
}

function inside(inner: { range?: [number, number] }, outer: { range?: [number, number] }): boolean {
  const [innerStart, innerEnd] = inner.range ?? [0, 0];
  const [outerStart, outerEnd] = outer.range ?? [0, 0];
  return innerStart >= outerStart && innerEnd <= outerEnd;
}

// esbuild bundles a class declaration as `var A = class {...}` and, when the
// body names the class, as `var A = class _A {...}`: a named class
// expression, which 2v29 cannot run.
const noClassSelfReference: Rule.RuleModule = {
  meta: {
    type: "problem",
    docs: { description: "Disallow a class body that refers to its own class by name (esbuild makes it a named class expression)" },
    schema: [],
    messages: { selfReference: subsetMessage("class-self-reference") },
  },
  create(context) {
    const sourceCode = context.sourceCode;
    function check(node: ClassNode): void {
      if (!node.id) return;
      for (const variable of sourceCode.getDeclaredVariables(node)) {
        for (const reference of variable.references) {
          if (isTypeOnly(reference) || !inside(reference.identifier, node.body)) continue;
          context.report({ node: reference.identifier, messageId: "selfReference" });
        }
      }
    }
    return { ClassDeclaration: check, ClassExpression: check };
  },
};

/** The local plugin, registered as `espruino` in eslint.config.js. */
export const espruinoPlugin: ESLint.Plugin = {
  meta: { name: "espruino" },
  rules: {
    "no-return-line-break": noReturnLineBreak,
    "no-class-self-reference": noClassSelfReference,
    "no-unsupported-regex": noUnsupportedRegex,
  },
};

/** Globals that only hal/espruino may touch: the board is reached through hal/ interfaces. */
export const espruinoGlobals: readonly string[] = [
  "E", "digitalWrite", "digitalRead", "pinMode", "setWatch", "clearWatch", "getTime", "require", "process", "global",
];

/** Where a device file sits decides which globals it may use (design: layers). */
export interface DeviceArea {
  /** Only hal/espruino talks to the interpreter's own API. */
  espruinoGlobals: boolean;
  /** firmware/ and protocol/ take time only from the Clock interface. */
  date: boolean;
}

type RestrictedGlobal = { name: string; message: string };

function restrictedGlobals(area: DeviceArea): RestrictedGlobal[] {
  const list = missingGlobals.map((g) => ({ name: g.name, message: missingGlobalMessage(g) }));
  if (!area.espruinoGlobals) {
    for (const name of espruinoGlobals) {
      list.push({ name, message: `Only hal/espruino/ may use the Espruino global \`${name}\`: go through the hal/ interfaces.` });
    }
  }
  if (!area.date) {
    list.push({ name: "Date", message: "firmware/ and protocol/ take time only from the Clock interface (hal/types.ts), so tests can drive it." });
  }
  return list;
}

function restrictedSyntax(rules: readonly SubsetRule[]): { selector: string; message: string }[] {
  const options: { selector: string; message: string }[] = [];
  for (const rule of rules) {
    if (rule.lint.kind !== "syntax") continue;
    for (const selector of rule.lint.selectors) options.push({ selector, message: rule.message });
  }
  return options;
}

/** ESLint rule ids that enforce the subset, for tests and reports. */
export const subsetRuleIds: readonly string[] = [
  "no-restricted-syntax",
  "no-restricted-globals",
  "no-restricted-properties",
  "no-restricted-imports",
  ...syntaxRules.flatMap((r) => (r.lint.kind === "rule" ? [r.lint.rule] : [])),
];

/**
 * The rules for one area of device code. ESLint replaces (does not merge) a
 * rule's options when two config objects set it, so each area gets its own
 * complete list.
 */
export function deviceRules(area: DeviceArea): Linter.RulesRecord {
  const rules: Linter.RulesRecord = {
    "no-restricted-syntax": ["error", ...restrictedSyntax(syntaxRules)],
    "no-restricted-globals": ["error", ...restrictedGlobals(area)],
    "no-restricted-properties": [
      "error",
      ...missingProperties.map((p) => ({ object: p.object, property: p.property, message: missingPropertyMessage(p) })),
    ],
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          {
            regex: "^(?!\\.{1,2}/)",
            message: "Device code imports only project files (relative paths): no node: modules and no npm packages on Espruino.",
          },
        ],
      },
    ],
  };
  for (const rule of syntaxRules) {
    if (rule.lint.kind === "rule") rules[rule.lint.rule] = ["error", ...(rule.lint.options ?? [])];
  }
  return rules;
}
