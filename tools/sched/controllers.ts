// The two controllers without a schedule that the benchmark compares the
// schedulers with (issue 5, "Benchmark"). Both act slot by slot as things
// happen, knowing nothing of the future, and neither looks at the import
// allowance: the grid gives what they draw (settle.ts limits it to what it
// physically can).
//
// - uncontrolled: every appliance runs at full power from the moment it may
//   (its request's arrival and earliest slot, a thermal band's window start)
//   until its energy is done; a program starts at once and runs whole.
// - PV-surplus threshold: an appliance runs in a slot when the surplus,
//   PV - baseload - the loads already running in that slot (before the home
//   battery, as an inverter's surplus output reports it), is at least its
//   power; and it is forced on at the last slot from which it can still
//   finish by its deadline at full power. Appliances are looked at in the
//   order they were paired (a threshold controller has no priorities). A
//   program's power is its peak slot; it starts on surplus or at its
//   latest start, then runs whole.

import { windowAt, windowNeeds, type SchedCase } from "./case";
import { emptyPlan, type Plan } from "./settle";

/** Jobs in the order their clients were paired, then arrival. */
function pairedOrder(c: SchedCase): number[] {
  return c.jobs.map((_, i) => i).sort((a, b) => c.jobs[a].client - c.jobs[b].client || c.jobs[a].arrival - c.jobs[b].arrival || a - b);
}

/** Places a whole profile from slot k; the Wh of its first slot. */
function startProfile(c: SchedCase, plan: Plan, i: number, k: number): number {
  const p = c.jobs[i].profileWh;
  for (let m = 0; m < p.length && k + m < c.slots; m++) plan[i][k + m] = p[m];
  return p[0];
}

export function uncontrolled(c: SchedCase): Plan {
  const plan = emptyPlan(c);
  const need = windowNeeds(c);
  const started = c.jobs.map(() => false);
  /** What a client draws in a slot so far: one appliance never draws more than its rating. */
  const drawn = new Float64Array(c.clients.length * c.slots);
  for (let k = 0; k < c.slots; k++) {
    for (const i of pairedOrder(c)) {
      const j = c.jobs[i];
      if (k < j.earliest) continue;
      if (j.profileWh.length) {
        if (!started[i]) {
          started[i] = true;
          startProfile(c, plan, i, k);
        }
        continue;
      }
      const w = windowAt(j, k);
      if (w < 0) continue;
      const room = j.maxWhPerSlot - drawn[j.client * c.slots + k];
      const wh = Math.max(0, Math.min(need[i][w / 3], room));
      plan[i][k] = wh;
      need[i][w / 3] -= wh;
      drawn[j.client * c.slots + k] += wh;
    }
  }
  return plan;
}

export function threshold(c: SchedCase): Plan {
  const plan = emptyPlan(c);
  const need = windowNeeds(c);
  const started = c.jobs.map(() => false);
  const drawn = new Float64Array(c.clients.length * c.slots);
  for (let k = 0; k < c.slots; k++) {
    // Loads already running in this slot: programs started before.
    let running = 0;
    for (let i = 0; i < c.jobs.length; i++) running += plan[i][k];
    let surplus = c.pvWh[k] - c.baseloadWh[k] - running;
    for (const i of pairedOrder(c)) {
      const j = c.jobs[i];
      if (k < j.earliest) continue;
      if (j.profileWh.length) {
        if (started[i]) continue;
        const latest = j.end - j.profileWh.length;
        if (k > latest) continue;
        if (surplus >= Math.max(...j.profileWh) || k === latest) {
          started[i] = true;
          surplus -= startProfile(c, plan, i, k);
        }
        continue;
      }
      const w = windowAt(j, k);
      if (w < 0) continue;
      const left = need[i][w / 3];
      if (left <= 0) continue;
      const room = j.maxWhPerSlot - drawn[j.client * c.slots + k];
      // Slots after this one in the window, at full power: less than what is left forces it on now.
      const later = (j.windows[w + 1] - k - 1) * j.maxWhPerSlot;
      const forced = left > later;
      if (!forced && surplus < j.maxWhPerSlot) continue;
      const wh = Math.max(0, Math.min(left, room));
      plan[i][k] = wh;
      need[i][w / 3] -= wh;
      drawn[j.client * c.slots + k] += wh;
      surplus -= wh;
    }
  }
  return plan;
}
