// Which property names the build may shorten (esbuild `mangleProps`): the
// firmware's own, and none that anything outside the bundle sees. esbuild
// renames by name, everywhere in the bundle, so one name that is also read
// by the interpreter, a technician or a stored file must never be in the set.
//
// Derived from the TypeScript program of the device code (tsconfig.device.json
// plus the bundle's entry), so it follows the code instead of a hand list:
//
//   mangled = names of properties declared in firmware/, hal/ or protocol/
//             (class members, interface and type members, object literal keys)
//           - reserved
//
//   reserved = every name written anywhere else in the program: the device
//              standard library (build/types/espruino-lib.d.ts), the Espruino
//              globals and modules (types/*.d.ts), an entry outside the device
//              folders (tools/device/protocol-check.device.ts and its input)
//            + every string literal of the device code that could be a name
//              (`o["fuseLimitW"]`, `["name", "kind", ...]` key lists), but
//              not one that can only be text (a part of a concatenation, an
//              argument typed plain string)
//            + the members, at every depth, of the types that cross the
//              bundle's edge:
//                - what the console exposes (the second argument of every
//                  Console.expose call: R's methods, their parameters and
//                  results: RouterStatus, RequestSpec, RequestAnswer, R.requests()),
//                - the board configuration (RouterConfig: sden.cfg, as the
//                  flasher writes it from flash.config.json),
//                - data that comes in as `unknown`/`any` and is cast to a shape,
//                - what JSON.stringify writes, for-in and Object.keys list,
//                - objects indexed with a string that is not a literal,
//                - the compile-time constants (`declare const SDEN_...`).
// Over-reserving costs bytes; under-reserving breaks the board, so every
// doubtful case reserves.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import ts from "typescript";
import { buildDeviceLib, DEVICE_LIB_PATH } from "./device-lib";

/** The folders whose code is the firmware's own. */
const DEVICE_DIRS = ["firmware", "hal", "protocol"];

/**
 * Types that cross the bundle's edge by name, on top of what is derived from
 * the code: the board configuration is parsed from flash JSON, and the
 * console's types are what a technician reads. The build fails if one of
 * them is renamed without updating this list.
 */
const PUBLIC_TYPES = ["RouterConfig", "RelayConfig", "MeterConfig", "ClientConfig", "BrokerConfig", "RouterStatus", "RequestSpec", "RequestAnswer"];

/** Could be a property name written `o.name`. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

export interface ManglePlan {
  /** Property names to shorten, sorted. */
  mangle: string[];
  /** Names the device code declares but that must keep their name, sorted (for review). */
  keptOwn: string[];
}

function deviceProgram(root: string, entryFile: string): ts.Program {
  // typecheck writes the library; a bare `npm run build` on a fresh checkout may come first.
  if (!existsSync(DEVICE_LIB_PATH)) {
    mkdirSync(dirname(DEVICE_LIB_PATH), { recursive: true });
    writeFileSync(DEVICE_LIB_PATH, buildDeviceLib());
  }
  const configPath = join(root, "tsconfig.device.json");
  const { config, error } = ts.readConfigFile(configPath, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, configPath);
  const files = parsed.fileNames.includes(entryFile) ? parsed.fileNames : [...parsed.fileNames, entryFile];
  return ts.createProgram(files, parsed.options);
}

/** The property name a declaration gives, when it is a plain identifier. */
function declaredName(node: ts.Node): string | undefined {
  if (
    ts.isPropertyDeclaration(node) || ts.isPropertySignature(node) || ts.isMethodDeclaration(node) || ts.isMethodSignature(node) ||
    ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node) || ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)
  ) {
    return ts.isIdentifier(node.name) ? node.name.text : undefined;
  }
  // A constructor parameter with `private`/`readonly`/`public` is a property too.
  if (ts.isParameter(node) && ts.isIdentifier(node.name) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.PublicKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword || m.kind === ts.SyntaxKind.ReadonlyKeyword)) {
    return node.name.text;
  }
  return undefined;
}

/** Works out which property names of the bundle built from entryFile may be shortened. */
export function manglePlan(root: string, entryFile: string): ManglePlan {
  const program = deviceProgram(root, entryFile);
  const checker = program.getTypeChecker();
  const isDevice = (sf: ts.SourceFile) => {
    const rel = relative(root, sf.fileName);
    return !rel.startsWith("..") && DEVICE_DIRS.includes(rel.split(sep)[0]) && !sf.isDeclarationFile;
  };
  const own = new Set<string>();
  const reserved = new Set<string>();

  // Every name of the library, the Espruino declarations and any code outside the device folders.
  const reserveAllNames = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node) || ts.isStringLiteralLike(node)) reserved.add(node.text);
    ts.forEachChild(node, reserveAllNames);
  };

  // The members of a type that crosses the edge, at every depth.
  const seen = new Set<ts.Type>();
  const reserveType = (type: ts.Type): void => {
    if (seen.has(type)) return;
    seen.add(type);
    if (type.isUnionOrIntersection()) {
      for (const t of type.types) reserveType(t);
      return;
    }
    if (type.isStringLiteral()) {
      reserved.add(type.value);
      return;
    }
    if (!(type.flags & ts.TypeFlags.Object)) return;
    if ((type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) for (const t of checker.getTypeArguments(type as ts.TypeReference)) reserveType(t);
    // A library type (Array, Uint8Array...) has only library names: only its type arguments matter.
    const decls = type.getSymbol()?.getDeclarations() ?? [];
    if (decls.length > 0 && decls.every((d) => !isDevice(d.getSourceFile()))) return;
    for (const p of checker.getPropertiesOfType(type)) {
      reserved.add(p.getName());
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      if (decl) reserveType(checker.getTypeOfSymbolAtLocation(p, decl));
    }
    for (const sig of [...type.getCallSignatures(), ...type.getConstructSignatures()]) {
      for (const param of sig.getParameters()) {
        const decl = param.valueDeclaration ?? param.declarations?.[0];
        if (decl) reserveType(checker.getTypeOfSymbolAtLocation(param, decl));
      }
      reserveType(sig.getReturnType());
    }
    for (const info of checker.getIndexInfosOfType(type)) reserveType(info.type);
  };
  const reserveTypeOf = (node: ts.Node) => reserveType(checker.getTypeAtLocation(node));

  const isConsoleExpose = (call: ts.CallExpression): boolean => {
    const decl = checker.getResolvedSignature(call)?.getDeclaration();
    return !!decl && ts.isMethodSignature(decl) && decl.name.getText() === "expose" && ts.isInterfaceDeclaration(decl.parent) && decl.parent.name.text === "Console";
  };
  /** `JSON.stringify`, `Object.keys`... */
  const isCallOf = (call: ts.CallExpression, object: string, methods: string[]) =>
    ts.isPropertyAccessExpression(call.expression) && ts.isIdentifier(call.expression.expression) && call.expression.expression.text === object && methods.includes(call.expression.name.text);
  const isUntyped = (node: ts.Expression) => (checker.getTypeAtLocation(node).flags & (ts.TypeFlags.Unknown | ts.TypeFlags.Any)) !== 0;
  const namedTypes = new Map<string, ts.Node>();
  /**
   * A string literal that can only be text, never a property's name: a part
   * of a concatenation, or an argument whose parameter is typed plain
   * `string` (a function that indexed an object with it would have that
   * object's members reserved by the element access rule below). Such a
   * literal that happens to spell a name ("maxQueue" in an error message)
   * does not keep the name from being shortened.
   */
  const isMessageText = (node: ts.StringLiteralLike): boolean => {
    const parent = node.parent;
    if (ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.PlusToken) return true;
    if (!ts.isCallExpression(parent) || !parent.arguments.includes(node as ts.Expression)) return false;
    const sig = checker.getResolvedSignature(parent);
    const param = sig?.getParameters()[parent.arguments.indexOf(node as ts.Expression)];
    const decl = param?.valueDeclaration;
    if (!param || !decl || !ts.isParameter(decl) || decl.dotDotDotToken) return false;
    return checker.getTypeOfSymbolAtLocation(param, decl).flags === ts.TypeFlags.String;
  };

  const visitDevice = (node: ts.Node): void => {
    const name = declaredName(node);
    if (name !== undefined) own.add(name);
    if (ts.isStringLiteralLike(node) && IDENTIFIER.test(node.text) && !isMessageText(node)) reserved.add(node.text);
    if ((ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node) || ts.isClassDeclaration(node)) && node.name) namedTypes.set(node.name.text, node.name);
    if (ts.isCallExpression(node)) {
      if (isConsoleExpose(node) && node.arguments[1]) reserveTypeOf(node.arguments[1]);
      if (isCallOf(node, "JSON", ["stringify"]) || isCallOf(node, "Object", ["keys", "entries", "values", "assign"])) for (const a of node.arguments) reserveTypeOf(a);
    }
    if (ts.isForInStatement(node)) reserveTypeOf(node.expression);
    if ((ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) && isUntyped(node.expression)) reserveTypeOf(node.type);
    if (ts.isElementAccessExpression(node)) {
      const key = checker.getTypeAtLocation(node.argumentExpression);
      if (!(key.flags & ts.TypeFlags.NumberLike)) {
        reserveType(key);
        if (key.flags & (ts.TypeFlags.String | ts.TypeFlags.Any | ts.TypeFlags.Unknown)) reserveTypeOf(node.expression);
      }
    }
    if (ts.isVariableStatement(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.DeclareKeyword)) {
      for (const d of node.declarationList.declarations) reserveTypeOf(d.name);
    }
    ts.forEachChild(node, visitDevice);
  };

  for (const sf of program.getSourceFiles()) {
    if (isDevice(sf)) visitDevice(sf);
    else reserveAllNames(sf);
  }
  for (const t of PUBLIC_TYPES) {
    const node = namedTypes.get(t);
    if (!node) throw new Error(`mangle: the public type ${t} is not declared in ${DEVICE_DIRS.join("/, ")}/ (tools/build/mangle.ts, PUBLIC_TYPES)`);
    reserveTypeOf(node);
  }
  const mangle = [...own].filter((n) => !reserved.has(n)).sort();
  const keptOwn = [...own].filter((n) => reserved.has(n)).sort();
  return { mangle, keptOwn };
}

/** The esbuild `mangleProps` pattern for exactly these names. */
export function manglePattern(names: readonly string[]): RegExp {
  // A pattern that matches nothing when there is nothing to shorten.
  return names.length === 0 ? /^(?!)$/ : new RegExp("^(?:" + names.join("|") + ")$");
}
