// The pairing page's console protocol (tools/pairing/console.ts): the lines
// it sends, how it reads Espruino's output, and a whole exchange with the
// router on the simulated board through the Espruino-like REPL.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConsoleError, ConsoleLink, cleanLine, commandLine, parseLine, passwordFor } from "../../tools/pairing/console";
import { EspruinoRepl } from "../support/espruino-repl";
import { pairingBoard } from "../support/pairing-board";

/** A link over a REPL on a router, with time the test moves by hand. */
function bench(password = "") {
  const board = pairingBoard();
  if (password) board.call((g) => (g.R as { password(p: string): unknown }).password(password));
  const out: string[] = [];
  const timers: { at: number; fn: () => void; done: boolean }[] = [];
  let nowMs = 0;
  const events: string[] = [];
  // The REPL answers at once; what it writes reaches the link in small pieces, as over BLE.
  const to: { link?: ConsoleLink } = {};
  const repl = new EspruinoRepl(board, {
    write: (s) => {
      out.push(s);
      for (let i = 0; i < s.length; i += 20) to.link?.feed(s.slice(i, i + 20));
    },
    onReboot: () => to.link?.close("The router restarted."),
  });
  const link = (to.link = new ConsoleLink({
    write: (s) => repl.input(s),
    timeoutMs: 5000,
    setTimeout: (fn, ms) => {
      const t = { at: nowMs + ms, fn, done: false };
      timers.push(t);
      return t;
    },
    clearTimeout: (t) => {
      (t as { done: boolean }).done = true;
    },
    onLocked: () => events.push("locked"),
    onText: (l) => events.push("text " + l),
  }));
  const advance = (ms: number) => {
    nowMs += ms;
    for (const t of timers) if (!t.done && t.at <= nowMs) {
      t.done = true;
      t.fn();
    }
  };
  return { board, repl, link, out, events, advance };
}

/** The ConsoleError a call failed with. */
async function failure(p: Promise<unknown>): Promise<ConsoleError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof ConsoleError)) throw new Error("expected the call to fail with a ConsoleError; got " + String(e));
  return e;
}

describe("the console lines", () => {
  it("a call is one echo-less line whose answer carries the tag only as an escape", () => {
    const l = commandLine(7, "R.clients()");
    expect(l.startsWith("\x10")).toBe(true);
    expect(l.endsWith("\n")).toBe(true);
    expect(l.slice(1, -1)).not.toMatch(/[\x00-\x1f]/);
    expect(l).toContain("\\x017:");
    expect(() => commandLine(1, "a\nb")).toThrow(/one line/);
  });

  it("reads tagged answers and thrown errors wherever the prompt or an erase left them", () => {
    expect(parseLine('>\x013:{"ok":true}\r')).toEqual({ type: "answer", id: 3, json: '{"ok":true}' });
    expect(parseLine('\r\x1b[J\x0112!ReferenceError: "R" is not defined\r')).toEqual({ type: "thrown", id: 12, message: 'ReferenceError: "R" is not defined' });
    expect(parseLine("  Logged in.\r")).toEqual({ type: "logged-in" });
    expect(parseLine("  Invalid password\r")).toEqual({ type: "refused" });
    expect(parseLine(">sden-router {}\r")).toEqual({ type: "text", line: "sden-router {}" });
    expect(cleanLine("\r\x1b[Jtick")).toBe("tick");
  });

  it("an echoed call is never taken for its answer", () => {
    fc.assert(
      fc.property(fc.nat(99999), fc.string({ maxLength: 40 }).filter((s) => !/[\r\n]/.test(s)), (id, expr) => {
        const echoed = commandLine(id, expr).slice(1, -1);
        expect(parseLine(echoed).type).toBe("text");
      }),
    );
  });
});

describe("a session with the router on the simulated board", () => {
  it("calls R and gets its answers parsed", async () => {
    const b = bench();
    const clients = await b.link.call<{ ok: boolean; clients: { name: string }[] }>("R.clients()");
    expect(clients.ok).toBe(true);
    expect(clients.clients.map((c) => c.name)).toEqual(["washer", "dishwasher", "ev", "water-heater"]);
    expect(b.link.state).toBe("open");
    // R.status() prints its own line before the answer: shown as text, not taken for it.
    const status = await b.link.call<{ relays: number[] }>("R.status()");
    expect(status.relays).toHaveLength(5);
    expect(b.events.some((e) => e.startsWith("text sden-router {"))).toBe(true);
  });

  it("a call to a board without R fails saying the firmware is missing", async () => {
    const b = bench();
    const e = await failure(b.link.call("Q.clients()"));
    expect(e.kind).toBe("thrown");
    expect(e.message).toMatch(/raised an error: ReferenceError/);
    const missing = await failure(b.link.call("R.nothing()"));
    expect(missing.message).toMatch(/lacks this call/);
  });

  it("a locked console refuses the probe, takes the right password only, then answers", async () => {
    const b = bench("s3cret");
    expect(b.repl.locked).toBe(true);
    const probe = await failure(b.link.call("R.clients()"));
    expect(probe.kind).toBe("locked");
    expect(b.link.state).toBe("locked");
    expect(b.events).toContain("locked");
    expect(await b.link.unlock("wrong")).toBe(false);
    expect(b.link.state).toBe("locked");
    expect(await b.link.unlock("s3cret")).toBe(true);
    expect(b.link.state).toBe("open");
    expect(b.repl.logins.map((l) => l.ok)).toEqual([false, false, true]);
    const a = await b.link.call<{ ok: boolean }>("R.clients()");
    expect(a.ok).toBe(true);
  });

  it("a call left unanswered fails after the timeout with what to try", async () => {
    let fire: (() => void) | undefined;
    const silent = new ConsoleLink({ write: () => {}, timeoutMs: 3000, setTimeout: (fn) => (fire = fn), clearTimeout: () => {} });
    const p = silent.call("R.clients()");
    fire?.();
    await expect(p).rejects.toThrow(/did not answer within 3 s. Check that it is powered and in range/);
  });

  it("a restart after R.pair closes the link and the router boots locked again", async () => {
    const b = bench("s3cret");
    await b.link.call("R.clients()").catch(() => undefined);
    await b.link.unlock("s3cret");
    const a = await b.link.call<{ ok: boolean; id: number; restart: boolean }>('R.pair({"name":"pool-pump","kind":"energy","relay":4,"meter":6,"priority":4})');
    expect(a).toEqual({ ok: true, id: 5, restart: true });
    b.board.run(2000);
    b.repl.poll();
    expect(b.board.boots.map((x) => x.reason)).toEqual(["power-on", "restart"]);
    expect(b.link.state).toBe("unknown");
    expect(b.repl.locked).toBe(true);
    const again = await failure(b.link.call("R.clients()"));
    expect(again.kind).toBe("locked");
    expect(await b.link.unlock("s3cret")).toBe(true);
    const after = await b.link.call<{ clients: { name: string }[] }>("R.clients()");
    expect(after.clients.map((c) => c.name)).toContain("pool-pump");
  });
});

describe("the password sent again after a reconnect", () => {
  it("goes to the device it unlocked only, never to another or to one the page cannot tell", () => {
    const remembered = { password: "s3cret-pw", device: "ble:sim-router" };
    expect(passwordFor(remembered, "ble:sim-router")).toBe("s3cret-pw");
    expect(passwordFor(remembered, "ble:neighbours-router")).toBeUndefined();
    expect(passwordFor(remembered, undefined)).toBeUndefined();
    expect(passwordFor({ password: "s3cret-pw", device: undefined }, undefined)).toBeUndefined();
    expect(passwordFor(undefined, "ble:sim-router")).toBeUndefined();
    fc.assert(fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (pw, had, now) => {
      expect(passwordFor({ password: pw, device: had }, now)).toBe(had !== undefined && had === now ? pw : undefined);
    }));
  });
});
