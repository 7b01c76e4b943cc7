// The bundle as the board stores it: pretokenised, the form Espruino's own
// tools (the Web IDE's "pretokenise" option, the Bangle.js app loader) upload
// to save flash. The interpreter's lexer reads a byte of 128 or more as one
// whole token (src/jslex.h, LEX_TYPES), so:
//   - a reserved word (`function`, `return`, `let`, `this`...) or an operator
//     of two or more characters (`===`, `&&`, `=>`...) is one byte;
//   - a string literal is its bytes after a length (0xD1 len, or 0xD2 lo hi),
//     without quotes or escapes;
//   - an integer literal from -32768 to 32767 is one to three bytes (0xD3,
//     0xD4 v, 0xD5 lo hi);
//   - no space is needed around any of them.
// Everything else (names, other numbers, regular expressions) stays as text.
//
// The lexer makes the same tokens of the output as of the input, so the two
// run the same program: `detokenise` turns the bytes back into text, which
// must parse to the same tree as the input (tested), and the device check
// compares this output with the interpreter's own tokeniser, byte for byte.
// Only boards built without SAVE_ON_FLASH read it; the three boards this
// firmware supports (ESP32, Espruino WiFi, nRF52) are not.
//
// Two rewrites make a value a single token before that: `!0` and `!1`
// (terser's way of writing true and false, two tokens) become `true` and
// `false`, and `void 0` becomes `undefined`. Each is the same value, and a
// keyword binds at least as tightly as the unary expression it replaces.

import * as acorn from "acorn";
import * as walk from "acorn-walk";

/** 2v29's token numbers for operators from `==` (138) to `=>` (162), in order. */
const OPERATORS = ["==", "===", "!=", "!==", "<=", "<<", "<<=", ">=", ">>", ">>>", ">>=", ">>>=", "+=", "-=", "++", "--", "*=", "/=", "%=", "&=", "&&", "|=", "||", "^=", "=>"];
const FIRST_OPERATOR = 138;
/** 2v29's token numbers for reserved words from `if` (163) to `of` (198), in order. */
const WORDS = "if else do while for break continue function return var let const this throw try catch finally true false null undefined new in instanceof switch case default delete typeof void debugger class extends super static of".split(" ");
const FIRST_WORD = 163;
const NULLISH = 208;
const RAW_STRING8 = 209;
const RAW_STRING16 = 210;
const RAW_INT0 = 211;
const RAW_INT8 = 212;
const RAW_INT16 = 213;

const TOKEN = new Map<string, number>([...OPERATORS.map((o, i) => [o, FIRST_OPERATOR + i] as const), ...WORDS.map((w, i) => [w, FIRST_WORD + i] as const), ["??", NULLISH]]);
const TEXT = new Map<number, string>([...TOKEN].map(([t, b]) => [b, t]));

/** The token kinds the lexer tells apart for spacing (src/jslex.c jslPreserveSpaceBetweenTokens). */
type Kind = "word" | "number" | "regex" | "other";

/** `!0`, `!1` and `void 0` as the keyword of the same value. */
export function asKeywords(code: string): string {
  const edits: { start: number; end: number; text: string }[] = [];
  walk.simple(acorn.parse(code, { ecmaVersion: 2020, allowReturnOutsideFunction: true }), {
    UnaryExpression(n) {
      const arg = n.argument;
      if (arg.type !== "Literal" || arg.raw === undefined) return;
      if (n.operator === "!" && (arg.raw === "0" || arg.raw === "1")) edits.push({ start: n.start, end: n.end, text: arg.raw === "0" ? "true" : "false" });
      if (n.operator === "void" && arg.raw === "0") edits.push({ start: n.start, end: n.end, text: "undefined" });
    },
  });
  let out = "";
  let at = 0;
  for (const e of edits.sort((a, b) => a.start - b.start)) {
    // A word after a name needs a space (`return!0` becomes `return true`).
    out += code.slice(at, e.start) + (/[\w$]$/.test(code.slice(0, e.start)) ? " " : "") + e.text + (/^[\w$]/.test(code.slice(e.end)) ? " " : "");
    at = e.end;
  }
  return out + code.slice(at);
}

/** An integer literal as the lexer's raw bytes, or undefined when it stays text. */
function rawInt(text: string): number[] | undefined {
  if (!/^(0|[1-9][0-9]*|0[xX][0-9a-fA-F]+)$/.test(text)) return undefined;
  const v = Number(text);
  if (v === 0) return [RAW_INT0];
  if (v < 128) return [RAW_INT8, v];
  if (v < 32768) return [RAW_INT16, v & 255, v >> 8];
  return undefined;
}

/**
 * A string literal's value as the lexer's raw bytes, or undefined when it
 * stays text: when empty, or not ASCII (a board with Unicode support reads
 * "\u00ff" as UTF-8 text but raw bytes as binary, so the two would differ).
 */
function rawString(value: string): number[] | undefined {
  if (value.length === 0 || value.length > 0xffff || /[^\x00-\x7f]/.test(value)) return undefined;
  const head = value.length < 256 ? [RAW_STRING8, value.length] : [RAW_STRING16, value.length & 255, value.length >> 8];
  return [...head, ...Buffer.from(value, "latin1")];
}

/**
 * The pretokenised bytes of minified ES2015 code (ASCII, no template
 * literals). Throws on what it cannot carry over token for token.
 * withoutNul: a literal whose raw bytes would hold a 0 stays text (the
 * Linux interpreter reads a script file only up to its first 0 byte; the
 * device check runs its timed programs that way).
 */
export function pretokenise(code: string, withoutNul = false): Buffer {
  // A byte of 128 or more in the text would read as a token.
  const wide = code.search(/[^\x00-\x7f]/);
  if (wide >= 0) throw new Error(`pretokenise: a character that is not ASCII at ${wide}; the build writes ASCII only`);
  const source = asKeywords(code);
  const out: number[] = [];
  let last: Kind = "other";
  let lastText = "";
  for (const t of acorn.tokenizer(source, { ecmaVersion: 2020 })) {
    const text = source.slice(t.start, t.end);
    const label = t.type.label;
    if (label === "eof") break;
    if (label === "template" || label === "`" || label === "${") throw new Error(`pretokenise: a template literal at ${t.start}; the bundle is ES2015 without them`);
    let bytes: number[] | undefined;
    let kind: Kind = "other";
    if (label === "string") bytes = rawString((t as acorn.Token & { value: string }).value);
    else if (label === "num") {
      bytes = rawInt(text);
      kind = "number";
    } else if (label === "regexp") kind = "regex";
    else if (/^[A-Za-z_$][\w$]*$/.test(text)) {
      const b = TOKEN.get(text);
      if (b !== undefined) bytes = [b];
      else kind = "word";
    } else {
      const b = TOKEN.get(text);
      if (b !== undefined) bytes = [b];
    }
    // The same spaces as the interpreter's own tokeniser keeps: between names
    // and numbers, in `- -` and `+ +`, and around a regular expression.
    if (((last === "word" || last === "number") && (kind === "word" || kind === "number")) || (lastText === "-" && text === "-") || (lastText === "+" && text === "+") || (lastText === "/" && kind === "regex") || (last === "regex" && (text === "/" || kind === "word"))) out.push(32);
    if (bytes && withoutNul && bytes.includes(0)) bytes = undefined;
    if (bytes) out.push(...bytes);
    else for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
    last = kind;
    lastText = text;
  }
  return Buffer.from(out);
}

/** Pretokenised bytes back as source text, every token spelled out (for reading, and to check `pretokenise`). */
export function detokenise(bytes: Uint8Array): string {
  let out = "";
  /** A token spelled out gets a space on each side that touches a word character. */
  const word = (s: string): void => {
    out += (/[\w$]$/.test(out) ? " " : "") + s + " ";
  };
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i++];
    if (b < 128) out += String.fromCharCode(b);
    else if (b === RAW_STRING8 || b === RAW_STRING16) {
      const n = b === RAW_STRING8 ? bytes[i++] : bytes[i++] | (bytes[i++] << 8);
      out += JSON.stringify(Buffer.from(bytes.subarray(i, i + n)).toString("latin1"));
      i += n;
    } else if (b === RAW_INT0) word("0");
    else if (b === RAW_INT8) word(String((bytes[i++] << 24) >> 24));
    else if (b === RAW_INT16) {
      word(String(((bytes[i] | (bytes[i + 1] << 8)) << 16) >> 16));
      i += 2;
    } else {
      const t = TEXT.get(b);
      if (t === undefined) throw new Error(`detokenise: byte ${b} at ${i - 1} is no token of 2v29`);
      word(t);
    }
  }
  return out;
}
