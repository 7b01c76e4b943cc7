// The Espruino-like REPL the pairing page's tests talk to
// (test/support/espruino-repl.ts) against transcripts of the Espruino 2v29
// interpreter (Linux build), recorded byte for byte for the same input: the
// page is tested against what a board prints, not against a guess.

import { describe, expect, it } from "vitest";
import { EspruinoRepl } from "../support/espruino-repl";
import { pairingBoard } from "../support/pairing-board";

function repl() {
  const board = pairingBoard();
  let out = "";
  const r = new EspruinoRepl(board, { write: (s) => (out += s) });
  /** What the console prints for this input. */
  const type = (s: string) => {
    out = "";
    r.input(s);
    return out;
  };
  return { board, r, type };
}

describe("the REPL prints what Espruino 2v29 prints", () => {
  it("echoes a typed line, prints its result after '=' and the prompt", () => {
    const { type } = repl();
    expect(type("2+2\n")).toBe("2+2\r\n=4\r\n>");
    expect(type('print("x")\n')).toBe('print("x")\r\nx\r\n=undefined\r\n>');
  });

  it("a line starting with 0x10 is neither echoed nor its result printed", () => {
    const { type } = repl();
    expect(type("\x10print(JSON.stringify({a:1}))\n")).toBe('{"a":1}\r\n>');
    expect(type("\x10print(2)\n")).toBe("2\r\n>");
  });

  it("an exception prints 'Uncaught' with its name and message", () => {
    const { type } = repl();
    expect(type('throw new Error("boom")\n')).toMatch(/^throw new Error\("boom"\)\r\nUncaught Error: boom\r\n/);
    expect(type("\x10R.x()\n")).toMatch(/^Uncaught TypeError: /);
    expect(type("\x10Q.x()\n")).toMatch(/^Uncaught ReferenceError: /);
  });

  it("a locked console takes every line as a password, 0x10 included, and echoes nothing", () => {
    const { r, type } = repl();
    expect(type('E.setPassword("abc")\n')).toBe('E.setPassword("abc")\r\n=undefined\r\n>');
    expect(type("E.lockConsole()\n")).toBe("E.lockConsole()\r\n=undefined\r\npassword>");
    expect(type("1+1\n")).toBe("\r\n  Invalid password\r\npassword>");
    expect(type("\n")).toBe("\r\n  Invalid password\r\npassword>");
    expect(type("\x03")).toBe("");
    expect(type("\x10abc\n")).toBe("\r\n  Invalid password\r\npassword>");
    expect(type("abc\n")).toBe("\r\n  Logged in.\r\n>");
    expect(r.logins.map((l) => l.ok)).toEqual([false, false, false, true]);
    expect(type("2+2\n")).toBe("2+2\r\n=4\r\n>");
  });

  it("output while waiting erases the prompt, prints the line and the prompt again", () => {
    const { board, type } = repl();
    type('E.setPassword("a")\n');
    type("E.lockConsole()\n");
    board.hal().console.print("tick");
    // Nothing typed: what the console printed meanwhile.
    expect(type("")).toBe("\r\x1b[Jtick\r\npassword>");
  });

  it("the router's R.password locks the console as hal/espruino does (E.setPassword, then E.lockConsole)", () => {
    const { r, type } = repl();
    expect(type('\x10print(JSON.stringify(R.password("pw-1")))\n')).toBe('{"ok":true}\r\npassword>');
    expect(r.locked).toBe(true);
    expect(type("pw-1\n")).toBe("\r\n  Logged in.\r\n>");
  });
});
