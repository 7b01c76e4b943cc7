// The wire figures of ../shared/quality.md: payload bytes per message kind
// against the same content as JSON with named fields, the MQTT frame that
// carries each, codec throughput on Node, and a million fuzzed frames.

import fc from "fast-check";
import { decodeCbor, encodeCbor } from "../../protocol/cbor";
import { Peer, open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { MqttParser, encodePublish } from "../../protocol/mqtt";
import { EXAMPLES, EXAMPLE_KEY, EXAMPLE_LIMITS, EXAMPLE_TIME, frameOf, qosOf, sha256, topicOf } from "../protocol/examples";
import { line } from "./line";

function sizes(): void {
  for (const e of EXAMPLES) {
    const f = frameOf(e);
    const json = JSON.stringify(e.json).length;
    const mqtt = encodePublish(topicOf(e.type), f, qosOf(e.type), 1, false, false).length;
    const ratio = f.length / json;
    let bar = "<= 40% of JSON (goal 25%)";
    let ok = ratio <= 0.4;
    if (e.type === M.REQUEST && e.name.includes("EV")) {
      bar = "<= 40 B (goal 28 B); " + bar;
      ok = ok && f.length <= 40;
    } else if (e.type === M.HEARTBEAT && Array.isArray(e.body) && e.body.length === 3) {
      bar = "- (once after each HELLO); " + bar;
    } else if (e.type === M.HEARTBEAT || e.type === M.ACK) {
      bar = "<= 24 B (goal 20 B); " + bar;
      ok = ok && f.length <= 24;
    }
    line("wire", `${e.name}`, `${f.length} B`, bar, ok);
    line("", `  as JSON with named fields; CBOR/JSON`, `${json} B ${Math.round(100 * ratio)}%`, "");
    line("", `  MQTT PUBLISH QoS ${qosOf(e.type)} on ${topicOf(e.type)}`, `${mqtt} B`, "");
  }
}

/** Runs fn over and over for about ms milliseconds; calls per second. */
function rate(ms: number, fn: () => void): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    t = performance.now();
  }
  return (n / (t - t0)) * 1000;
}

function throughput(): void {
  const frames = EXAMPLES.map(frameOf);
  const out = new Uint8Array(1024);
  const scratch = new Uint8Array(512);
  let i = 0;
  const k = () => i++ % EXAMPLES.length;
  const per = (r: number) => `${Math.round(r).toLocaleString("en")}/s`;
  line("wire", "CBOR encode of the example bodies on Node", per(rate(300, () => encodeCbor(EXAMPLES[k()].body, out, 0, 4))), "-");
  line("wire", "CBOR decode of the example frames on Node", per(rate(300, () => decodeCbor(frames[k()], 5, 320))), "-");
  line("wire", "seal (CBOR + HMAC-SHA256) on Node", per(rate(300, () => {
    const e = EXAMPLES[k()];
    seal(e.type, e.seq, EXAMPLE_TIME, e.body, EXAMPLE_KEY, sha256, scratch);
  })), "-");
  line("wire", "open (CBOR + MAC check + schema) on Node", per(rate(300, () => {
    const j = k();
    open(frames[j], EXAMPLE_KEY, sha256, M.isUp(EXAMPLES[j].type), 0, EXAMPLE_LIMITS);
  })), "-");
  const stream = Buffer.concat(frames.map((f, j) => encodePublish(topicOf(EXAMPLES[j].type), f, 1, j + 1, false, false)));
  const parser = new MqttParser(512);
  const packets = rate(300, () => {
    parser.push(stream);
    while (parser.next() !== null);
  }) * frames.length;
  line("wire", "MQTT frames parsed on Node (whole-chunk stream)", per(packets), "-");
}

/** A million random and mutated frames into the envelope and the MQTT parser. */
function fuzz(runs: number): void {
  const good = EXAMPLES.filter((e) => !M.isUp(e.type)).map((e) => {
    const f = seal(e.type, 5000, EXAMPLE_TIME, e.body, EXAMPLE_KEY, sha256, new Uint8Array(512)) as Uint8Array;
    return f;
  });
  const mqtt = good.map((f, j) => encodePublish("sden/v1/g1/r0042/down", f, 1, j + 1, false, false));
  const peer = new Peer(EXAMPLE_KEY, sha256, EXAMPLE_LIMITS, 4000);
  const mutate = (pool: Uint8Array[]) =>
    fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.tuple(fc.constantFrom(...pool), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(3)), { minLength: 1, maxLength: 4 })).map(([f, edits]) => {
        let g = Uint8Array.from(f);
        for (const [at, x, op] of edits) {
          const i = at % (g.length + 1);
          if (op === 0 && i < g.length) g[i] ^= x;
          else if (op === 1) g = g.slice(0, i);
          else if (op === 2) g = Uint8Array.from([...g.subarray(0, i), x, ...g.subarray(i)]);
          else if (i < g.length) g = Uint8Array.from([...g.subarray(0, i), ...g.subarray(i + 1)]);
        }
        return g;
      }),
    );
  let escaped = 0;
  let changed = 0;
  let accepted = 0;
  const t0 = performance.now();
  for (const frame of fc.sample(mutate(good), { numRuns: runs, seed: 1 })) {
    try {
      const env = peer.check(frame);
      if (env !== null) {
        if (good.some((g) => Buffer.compare(g, frame) === 0)) accepted++;
        else changed++;
      }
      if (peer.lastSeq !== 4000) changed++;
    } catch {
      escaped++;
    }
  }
  const ms = performance.now() - t0;
  line("reliability", `fuzzed frames into open(): ${runs.toLocaleString("en")} (${accepted} untouched accepted)`, `${escaped} escaped, ${changed} changed`, "0 and 0 (goal 10,000,000 frames)", escaped === 0 && changed === 0);
  line("", `  time`, `${(ms / 1000).toFixed(1)} s`, "");
  let mEscaped = 0;
  let held = 0;
  const parser = new MqttParser(512);
  for (const frame of fc.sample(mutate(mqtt), { numRuns: runs, seed: 2 })) {
    try {
      parser.reset();
      parser.push(frame);
      while (parser.next() !== null);
      held = Math.max(held, parser.heldBytes());
    } catch {
      mEscaped++;
    }
  }
  line("reliability", `fuzzed frames into the MQTT parser: ${runs.toLocaleString("en")}`, `${mEscaped} escaped`, "0", mEscaped === 0);
  line("", `  most bytes the parser held (max frame 512)`, `${held} B`, "<= 517 B", held <= 517);
}

export function protocolBench(): void {
  sizes();
  throughput();
  fuzz(Number(process.env.BENCH_FUZZ_FRAMES ?? 1_000_000));
}
