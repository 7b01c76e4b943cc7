// The reference energy server on real time, for manual use against real
// routers or a broker you run yourself (docs/server.md). Tests and the
// simulator drive EnergyServer on virtual time instead.
//
//   npx tsx tools/server/main.ts --broker mqtt://127.0.0.1:1883 --routers routers.json
//
// routers.json: [{ "gridId": "g1", "routerId": "r0042", "key": "<64 hex digits>" }, ...]
// The supply curve is synthetic: PV as a half sine from 06:00 to 18:00 UTC
// peaking at --pv-peak-wh per slot, constant wind and import allowance.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { SupplySlot } from "./alloc";
import { startServer, type RouterSpec } from "./server";

const { values: args } = parseArgs({
  options: {
    broker: { type: "string", default: "mqtt://127.0.0.1:1883" },
    routers: { type: "string" },
    "slot-min": { type: "string", default: "10" },
    "packet-wh": { type: "string", default: "10" },
    "lease-slots": { type: "string", default: "12" },
    "heartbeat-s": { type: "string", default: "60" },
    "pv-peak-wh": { type: "string", default: "3000" },
    "wind-wh": { type: "string", default: "0" },
    "import-wh": { type: "string", default: "1000" },
    "tick-ms": { type: "string", default: "1000" },
  },
});

/** A whole number from an option, or exit with the option named. */
function int(name: keyof typeof args, min: number, max: number): number {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < min || v > max) {
    console.error(`--${name}: a whole number from ${min} to ${max}; got ${args[name]}`);
    process.exit(2);
  }
  return v;
}

function readRouters(path: string | undefined): RouterSpec[] {
  if (!path) {
    console.error("--routers: a JSON file with [{ gridId, routerId, key (64 hex digits) }, ...]");
    process.exit(2);
  }
  const list = JSON.parse(readFileSync(path, "utf8")) as { gridId: string; routerId: string; key: string }[];
  return list.map((r, i) => {
    if (!/^[0-9a-fA-F]{64}$/.test(r.key)) {
      console.error(`${path}: router ${i}: key must be 64 hex digits`);
      process.exit(2);
    }
    return { gridId: r.gridId, routerId: r.routerId, key: new Uint8Array(Buffer.from(r.key, "hex")) };
  });
}

const slotMin = int("slot-min", 1, 60);
const pvPeakWh = int("pv-peak-wh", 0, 10_000_000);
const windWh = int("wind-wh", 0, 10_000_000);
const importWh = int("import-wh", 0, 10_000_000);

/** PV as a half sine over 06:00-18:00 UTC; wind and import constant. */
function supply(slot: number): SupplySlot {
  const hour = ((slot * slotMin) / 60) % 24;
  const pv = hour >= 6 && hour < 18 ? Math.round(pvPeakWh * Math.sin(((hour - 6) / 12) * Math.PI)) : 0;
  return { pvWh: pv, windWh, importWh };
}

const routers = readRouters(args.routers);
const server = await startServer({
  brokerUrl: args.broker,
  routers,
  supply,
  now: () => Date.now() / 1000,
  slotMin,
  packetWh: int("packet-wh", 1, 10000),
  leaseSlots: int("lease-slots", 1, 144),
  heartbeatS: int("heartbeat-s", 10, 3600),
});

// The configuration in effect, once, at start.
console.log(`sden reference server on ${args.broker}: ${routers.length} routers (${routers.map((r) => r.gridId + "/" + r.routerId).join(", ")})`);
console.log(`slots ${server.slotMin} min, packets ${server.packetWh} Wh, horizon ${server.horizonSlots} slots, lease ${server.leaseSlots} slots (renewed ${server.renewSlots} before its end), heartbeat ${server.heartbeatS} s`);
console.log(`slice shares ${server.shares.join(":")} (class 0 = emergencies); supply: PV peak ${pvPeakWh} Wh, wind ${windWh} Wh, import ${importWh} Wh per slot`);

function summary(): string {
  const st = server.stats();
  const avg = st.decisions ? (st.decisionMsSum / st.decisions).toFixed(1) : "-";
  return `requests ${st.requestsReceived} (accepted ${st.requestsAccepted}, rejected ${Array.from(st.requestsRejected).reduce((a, b) => a + b, 0)}), acks ${st.acks}, frames in ${st.framesIn} / out ${st.framesOut}, bytes in ${st.bytesIn} / out ${st.bytesOut}, refused ${Array.from(st.refused).reduce((a, b) => a + b, 0)}, decisions ${avg} ms avg`;
}

let ticks = 0;
const tickMs = int("tick-ms", 10, 60000);
const timer = setInterval(() => {
  server.tick();
  if (++ticks % Math.max(1, Math.round(60000 / tickMs)) === 0) console.log(summary());
}, tickMs);

async function stop(): Promise<void> {
  clearInterval(timer);
  await server.close();
  console.log(summary());
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
