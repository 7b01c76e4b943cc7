// The figures of a simulated day of the main job (tools/sim/world.ts): the
// router on the simulated board, the embedded broker and the reference
// server, for the named scenarios of ../shared/quality.md that the router
// alone serves (the local-server scenarios come with the local scheduler).

import { LINK_BYTES_OUT } from "../../firmware/link";
import type { ScenarioName } from "../sim/scenario";
import { World } from "../sim/world";
import { line } from "./line";

const DAY_MS = 24 * 3_600_000;

export async function dayBench(scenario: ScenarioName, seed: number): Promise<void> {
  const t0 = performance.now();
  const w = await World.create({ scenario, seed });
  await w.run(DAY_MS);
  const ms = performance.now() - t0;
  const link = w.router?.agent?.link;
  const upBits = (link ? link.counts[LINK_BYTES_OUT] : 0) * 8;
  line("wire", `${scenario}: average uplink per router over the day (MQTT bytes)`, `${(upBits / 86400).toFixed(2)} bit/s`, "<= 2 bit/s (goal 0.5)", upBits / 86400 <= 2);
  // Switchings per appliance: in its busiest hour.
  let worst = 0;
  let worstName = "";
  for (const c of w.config.clients ?? []) {
    // On and off both count; the boot's first write only sets the level.
    const perHour = new Array(24).fill(0);
    let level = -1;
    for (const t of w.board.pins.transitions(w.config.relays[c.relay].pin)) {
      if (level !== -1 && t.level !== level) perHour[Math.min(23, Math.floor(t.atMs / 3_600_000))]++;
      level = t.level;
    }
    const m = Math.max(...perHour);
    if (m > worst) {
      worst = m;
      worstName = c.name;
    }
  }
  line("scheduling", `${scenario}: relay switchings per appliance in its busiest hour (${worstName})`, String(worst), "<= 4 (goal 2)", worst <= 4);
  const apps = w.household.appliances;
  const met = apps.reduce((n, a) => n + a.counters.deadlinesMet, 0);
  const missed = apps.reduce((n, a) => n + a.counters.deadlinesMissed, 0);
  line("scheduling", `${scenario}: deadlines met, requests with a deadline`, `${met} of ${met + missed}`, "100%", missed === 0);
  const st = w.server.stats();
  line("fleet", `${scenario}: request -> decision at the reference server, mean`, `${(st.decisionMsSum / Math.max(1, st.decisions)).toFixed(2)} ms`, "p99 <= 500 ms at 1,000 routers (not measured here)");
  line("sim", `${scenario}: one simulated day over the embedded broker`, `${(ms / 1000).toFixed(1)} s`, "-");
  await w.close();
}
