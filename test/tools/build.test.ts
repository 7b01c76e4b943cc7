import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { build } from "../../tools/build/build";
import { checkBundle } from "../../tools/build/check-bundle";
import { pretokenise } from "../../tools/build/pretokenise";

const dir = mkdtempSync(join(tmpdir(), "sden-build-"));
const config = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));

describe("npm run build", () => {
  it("writes one ASCII bundle that passes the bundle check, and the same program pretokenised for the board", async () => {
    const out = join(dir, "router.js");
    const r = await build({ outFile: out });
    const code = readFileSync(out, "utf8");
    expect(r.bytes).toBe(Buffer.byteLength(code));
    expect(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(code)).toBe(true);
    expect(checkBundle(code)).toEqual([]);
    expect(r.bootFile).toBe(join(dir, "router.bootcde"));
    expect(readFileSync(r.bootFile)).toEqual(pretokenise(code));
    expect(r.bootBytes).toBe(readFileSync(r.bootFile).length);
    expect(code).toContain('require("Storage")');
    // Wrapped in a function called at once, so its names stay out of the global scope.
    expect(code).toMatch(/^(\(function\(\)\{[^]*\}\)\(\)|!function\(\)\{[^]*\}\(\));?\s*$/);
  });

  it("holds nothing of a board's configuration: one build serves every board", async () => {
    const code = readFileSync(join(dir, "router.js"), "latin1");
    for (const v of [config.routerId, config.gridId, ...config.relays.map((r: { pin: string }) => '"' + r.pin + '"'), ...config.clients.map((c: { name: string }) => '"' + c.name + '"')]) expect(code).not.toContain(v);
  });
});

describe("the protocol codecs as the device runs them", () => {
  it("bundle (tools/device/protocol-check.device.ts: CBOR, envelope, HMAC, messages, MQTT, topics) and pass the bundle check", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sden-protocol-bundle-"));
    const input = { hmac: [], key: "00", frames: [], limits: [0], cbor: [] };
    const r = await build({ entryFile: new URL("../../tools/device/protocol-check.device.ts", import.meta.url).pathname, outFile: join(dir, "check.js"), define: { SDEN_CHECK: input } });
    const code = readFileSync(r.file, "latin1");
    expect(checkBundle(code)).toEqual([]);
    // The topics module is in it (and with it the MQTT encoder that the check calls).
    expect(code).toContain("sden/v1/");
  });
});

describe("the full local reallocation as the device runs it", () => {
  it("bundles (tools/device/realloc.device.ts: the local scheduler and the request table) and passes the bundle check", async () => {
    const { fullCaseInput } = await import("../../tools/sched/fullcase");
    const dir = mkdtempSync(join(tmpdir(), "sden-realloc-bundle-"));
    const r = await build({ entryFile: new URL("../../tools/device/realloc.device.ts", import.meta.url).pathname, outFile: join(dir, "realloc.js"), define: { SDEN_CHECK: fullCaseInput(1) } });
    const code = readFileSync(r.file, "latin1");
    expect(checkBundle(code)).toEqual([]);
    // The case's own keys reach the device unmangled (they come in as JSON).
    expect(code).toContain(".records");
    expect(code).toContain(".supply");
  });
});
