// Runs on the Espruino 2v29 interpreter (npm run test:device): the protocol
// codecs with the board's native SHA-256. It prints one line per result;
// tools/device/run.ts compares them with what Node computes.

import { espruinoHal } from "../../hal/espruino/hal";
import { decodeCbor, encodeCbor } from "../../protocol/cbor";
import type { CborValue } from "../../protocol/cbor";
import { open, seal } from "../../protocol/envelope";
import { hmacSha256 } from "../../protocol/hmac";
import { isUp } from "../../protocol/messages";
import { MqttParser, encodePublish } from "../../protocol/mqtt";
import { topicDown } from "../../protocol/topics";

interface CheckInput {
  hmac: string[][];
  key: string;
  frames: { type: number; seq: number; time: number; body: CborValue }[];
  limits: number[];
  cbor: string[];
}

declare const SDEN_CHECK: CheckInput;

function fromHex(s: string): Uint8Array {
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
  return b;
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

const hal = espruinoHal();
const sha256 = hal.system.sha256;
const print = hal.console.print;
const input = SDEN_CHECK;
for (let i = 0; i < input.hmac.length; i++) print("hmac " + toHex(hmacSha256(sha256, fromHex(input.hmac[i][0]), fromHex(input.hmac[i][1]))));
const key = fromHex(input.key);
const lim = { horizonSlots: 144, maxPerSlot: new Uint16Array(input.limits) };
const scratch = new Uint8Array(512);
for (let i = 0; i < input.frames.length; i++) {
  const m = input.frames[i];
  const f = seal(m.type, m.seq, m.time, m.body, key, sha256, scratch);
  if (typeof f === "number") print("frame error " + f);
  else {
    print("frame " + toHex(f) + " " + open(f, key, sha256, isUp(m.type), 0, lim).e);
    // The frame in a QoS 1 PUBLISH, parsed back from chunks of 7 bytes.
    const pub = encodePublish(topicDown("g1", "r0042"), f, 1, i + 1, false, false);
    const parser = new MqttParser(512);
    let got = "none";
    for (let at = 0; at < pub.length; at += 7) {
      parser.push(pub.subarray(at, at + 7));
      const p = parser.next();
      if (p !== null && p.t === 3) got = p.topic + " " + p.id + " " + toHex(p.payload);
    }
    print("mqtt " + toHex(pub) + " " + got + " " + parser.error);
  }
}
const out = new Uint8Array(512);
for (let i = 0; i < input.cbor.length; i++) {
  const d = decodeCbor(fromHex(input.cbor[i]), 8, 300);
  print("cbor " + d.e + " " + (d.e === 0 ? toHex(out.subarray(0, encodeCbor(d.v, out, 0, 8))) : ""));
}
print("memory " + JSON.stringify(hal.system.memory()));
