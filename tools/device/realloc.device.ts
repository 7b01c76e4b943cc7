// Runs on the Espruino 2v29 interpreter (npm run test:device, npm run
// bench with ESPRUINO set): the bar's full local reallocation (16 clients x
// 144 slots, 32 open requests). It prints what the scheduler decided, which
// tools/device/run.ts compares line by line with Node, then the wall-clock
// time of each of SDEN_RUNS reallocations and the memory.

import { espruinoHal } from "../../hal/espruino/hal";
import { buildRealloc, reallocLines, runRealloc, type ReallocInput } from "./realloc-case.device";

declare const SDEN_CHECK: ReallocInput;
/** Reallocations to run (run.ts times the interpreter's CPU for two counts and takes the difference). */
declare const SDEN_RUNS: number;

const RUNS = SDEN_RUNS;
const hal = espruinoHal();
const print = hal.console.print;
const input = SDEN_CHECK;
const c = buildRealloc(input);
let admitted = 0;
let times = "";
for (let r = 0; r < RUNS; r++) {
  // allocate() does not change the table: every run decides the same.
  const t0 = hal.clock.nowMs();
  admitted = runRealloc(input, c.sched, c.rq);
  times += " " + (hal.clock.nowMs() - t0).toFixed(1);
}
const lines = reallocLines(input, c.sched, admitted);
for (let i = 0; i < lines.length; i++) print(lines[i]);
print("times" + times);
print("memory " + JSON.stringify(hal.system.memory()));
