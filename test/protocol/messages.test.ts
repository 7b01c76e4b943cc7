// protocol/messages.ts: one check of every body against its schema.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CborValue } from "../../protocol/cbor";
import * as M from "../../protocol/messages";
import { EXAMPLES, EXAMPLE_LIMITS } from "../../tools/protocol/examples";
import { limitsAndMessageArb } from "../support/messages-arb";

const lim = EXAMPLE_LIMITS;
const WM = 1; // washing machine: 36 packets a slot
const EV = 2; // EV charger: 183 packets a slot

describe("validateBody", () => {
  it.each(EXAMPLES.map((e) => [e.name, e] as const))("the example %s is valid", (_, e) => {
    expect(M.validateBody(e.type, e.body, lim)).toBe(0);
  });

  it("every generated valid message of every type passes", () => {
    fc.assert(fc.property(limitsAndMessageArb, ({ lim, msg }) => M.validateBody(msg.type, msg.body, lim) === 0), { numRuns: 3000 });
  });

  // [what is wrong, type, body, reason]
  const bad: [string, number, CborValue, number][] = [
    ["an unknown type", 15, [1], M.E_TYPE],
    ["type 0", 0, [1], M.E_TYPE],
    ["a request body that is not an array", M.REQUEST, 5, M.E_SHAPE],
    ["an empty request", M.REQUEST, [], M.E_SHAPE],
    ["more than 32 requests", M.REQUEST, Array.from({ length: 33 }, (_, i) => [i + 1, EV, M.KIND_ENERGY, 0, 10, 10, 1]), M.E_SHAPE],
    ["request id 0", M.REQUEST, [[0, EV, M.KIND_ENERGY, 0, 10, 10, 1]], M.E_RANGE],
    ["an unknown client", M.REQUEST, [[1, 9, M.KIND_ENERGY, 0, 10, 10, 1]], M.E_CLIENT],
    ["client 0", M.REQUEST, [[1, 0, M.KIND_ENERGY, 0, 10, 10, 1]], M.E_CLIENT],
    ["a client id that is text", M.REQUEST, [[1, "2", M.KIND_ENERGY, 0, 10, 10, 1]], M.E_SHAPE],
    ["an unknown kind", M.REQUEST, [[1, EV, 4, 0, 10, 10, 1]], M.E_RANGE],
    ["an energy request with a field missing", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 10]], M.E_SHAPE],
    ["an energy request with a field too many", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 10, 1, 1]], M.E_SHAPE],
    ["a negative packet count", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, -5, 1]], M.E_SHAPE],
    ["zero packets", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 0, 1]], M.E_RANGE],
    ["a deadline beyond the horizon", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 145, 10, 1]], M.E_HORIZON],
    ["a deadline at the earliest start", M.REQUEST, [[1, EV, M.KIND_ENERGY, 10, 10, 10, 1]], M.E_ORDER],
    ["a deadline before the earliest start", M.REQUEST, [[1, EV, M.KIND_ENERGY, 20, 10, 10, 1]], M.E_ORDER],
    ["more per slot than the EV's rated power", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 10, 184]], M.E_POWER],
    ["zero per slot", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 10, 0]], M.E_RANGE],
    ["more packets than fit by the deadline", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 1831, 183]], M.E_RANGE],
    ["a fractional packet count", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 1.5, 1]], M.E_SHAPE],
    ["a profile longer than its window", M.REQUEST, [[1, WM, M.KIND_PROFILE, 0, 2, [1, 2, 3]]], M.E_ORDER],
    ["a profile slot above the rated power", M.REQUEST, [[1, WM, M.KIND_PROFILE, 0, 5, [1, 37]]], M.E_POWER],
    ["a profile of zeros", M.REQUEST, [[1, WM, M.KIND_PROFILE, 0, 5, [0, 0]]], M.E_RANGE],
    ["an empty profile", M.REQUEST, [[1, WM, M.KIND_PROFILE, 0, 5, []]], M.E_SHAPE],
    ["a profile that is not an array", M.REQUEST, [[1, WM, M.KIND_PROFILE, 0, 5, 3]], M.E_SHAPE],
    ["a thermal window longer than the band", M.REQUEST, [[1, 3, M.KIND_THERMAL, 0, 10, 5, 11, 5]], M.E_ORDER],
    ["a thermal window of 0 slots", M.REQUEST, [[1, 3, M.KIND_THERMAL, 0, 10, 5, 0, 5]], M.E_ORDER],
    ["a thermal need above what a window can take", M.REQUEST, [[1, 3, M.KIND_THERMAL, 0, 10, 26, 5, 5]], M.E_RANGE],
    ["one bad item among good ones", M.REQUEST, [[1, EV, M.KIND_ENERGY, 0, 10, 10, 1], [2, EV, M.KIND_ENERGY, 0, 10, 10, 999]], M.E_POWER],
    ["an ack that is not triples", M.ACK, [1, 2], M.E_SHAPE],
    ["an ack for an unknown client", M.ACK, [7, 2, 20], M.E_CLIENT],
    ["an ack above the rated power", M.ACK, [WM, 37, 370], M.E_POWER],
    ["an ack with negative Wh", M.ACK, [WM, 2, -1], M.E_SHAPE],
    ["an ack with absurd Wh", M.ACK, [WM, 2, 70000], M.E_SHAPE],
    ["an accept of request 0", M.ACCEPT, [0], M.E_RANGE],
    ["an empty accept", M.ACCEPT, [], M.E_SHAPE],
    ["a reject with an unknown reason", M.REJECT, [1, 9, 60], M.E_RANGE],
    ["a reject with a negative retry", M.REJECT, [1, 1, -60], M.E_SHAPE],
    ["a reject with a retry beyond a day", M.REJECT, [1, 1, 86401], M.E_RANGE],
    ["a schedule for an unknown client", M.SCHEDULE, [9, 0, [1], 1], M.E_CLIENT],
    ["a schedule past the horizon", M.SCHEDULE, [EV, 140, [1, 1, 1, 1, 1], 144], M.E_HORIZON],
    ["a schedule whose lease ends past the horizon", M.SCHEDULE, [EV, 0, [1], 145], M.E_HORIZON],
    ["a schedule with a lease that has ended", M.SCHEDULE, [EV, 0, [1], 0], M.E_ORDER],
    ["a schedule above the rated power", M.SCHEDULE, [WM, 0, [36, 37], 3], M.E_POWER],
    ["a schedule with a negative count", M.SCHEDULE, [WM, 0, [1, -1], 3], M.E_SHAPE],
    ["a schedule with no slots", M.SCHEDULE, [WM, 0, [], 3], M.E_SHAPE],
    ["a schedule with a field missing", M.SCHEDULE, [WM, 0, [1]], M.E_SHAPE],
    ["a heartbeat with 0-minute slots", M.HEARTBEAT, [0, 10], M.E_RANGE],
    ["a heartbeat with slots over an hour", M.HEARTBEAT, [61, 10], M.E_SHAPE],
    ["a heartbeat echoing seq 0", M.HEARTBEAT, [10, 10, 0], M.E_RANGE],
    ["a heartbeat with text", M.HEARTBEAT, [10, "10"], M.E_SHAPE],
    ["an emergency with an unknown reason", M.EMERGENCY, [1, EV, 3], M.E_RANGE],
    ["an emergency for an unknown client", M.EMERGENCY, [1, 8, 1], M.E_CLIENT],
    ["telemetry with a negative total", M.TELEMETRY, [1, -5], M.E_SHAPE],
    ["telemetry with nine meters", M.TELEMETRY, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9], M.E_SHAPE],
    ["a pairing with a non-ASCII name", M.PAIRING, [2, M.KIND_ENERGY, 1, 3, 11000, 2, "EV\u00e9"], M.E_SHAPE],
    ["a pairing with an empty name", M.PAIRING, [2, M.KIND_ENERGY, 1, 3, 11000, 2, ""], M.E_SHAPE],
    ["a pairing rated at 0 W", M.PAIRING, [2, M.KIND_ENERGY, 1, 3, 0, 2, "EV"], M.E_RANGE],
    ["a pairing on relay channel 16", M.PAIRING, [2, M.KIND_ENERGY, 16, 3, 11000, 2, "EV"], M.E_RANGE],
    ["a pairing with priority 8", M.PAIRING, [2, M.KIND_ENERGY, 1, 3, 11000, 8, "EV"], M.E_RANGE],
    ["an unpairing with more fields", M.PAIRING, [2, 0, 1], M.E_SHAPE],
    ["a pairing of client 0", M.PAIRING, [0, 0], M.E_RANGE],
    ["a hello with a maximum frame under 64 bytes", M.HELLO, ["0.1.0", 1, 0, 63], M.E_RANGE],
    ["a hello with a firmware that is not text", M.HELLO, [1, 1, 0, 512], M.E_SHAPE],
    ["a config with no keys", M.CONFIG, {}, M.E_SHAPE],
    ["a config with an unknown key", M.CONFIG, { 7: 1 }, M.E_RANGE],
    ["a config with key 0", M.CONFIG, { 0: 1 }, M.E_RANGE],
    ["a config with a negative key", M.CONFIG, { [-1]: 1 }, M.E_RANGE],
    ["a config with a heartbeat of 5 s", M.CONFIG, { [M.CFG_HEARTBEAT_S]: 5 }, M.E_RANGE],
    ["a config with an absurd failsafe", M.CONFIG, { [M.CFG_FAILSAFE_MISSES]: 1000 }, M.E_RANGE],
    ["a config with a negative value", M.CONFIG, { [M.CFG_IMPORT_WH]: -1 }, M.E_SHAPE],
    ["a config that is an array", M.CONFIG, [1, 60], M.E_SHAPE],
    ["a config that is null", M.CONFIG, null, M.E_SHAPE],
    ["a nack with reason 0", M.NACK_DOWN, [1, 2, 0], M.E_RANGE],
    ["a nack of type 32", M.NACK_UP, [1, 32, 5], M.E_SHAPE],
    ["a backup with nine meter totals", M.BACKUP, [1, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9]], M.E_SHAPE],
    ["a backup with totals not in a list", M.BACKUP, [1, 1, 5], M.E_SHAPE],
    ["a backup with a negative mark", M.BACKUP, [-1, 1, []], M.E_SHAPE],
    ["a stored with two marks", M.STORED, [1, 2], M.E_SHAPE],
    ["a local report that is not quadruples", M.LOCAL_REPORT, [301, EV, M.LR_DELIVERED], M.E_SHAPE],
    ["an empty local report", M.LOCAL_REPORT, [], M.E_SHAPE],
    ["a local report of 33 requests", M.LOCAL_REPORT, Array.from({ length: 33 }, (_, i) => [i + 1, EV, M.LR_DELIVERED, 5]).flat(), M.E_SHAPE],
    ["a local report for an unknown client", M.LOCAL_REPORT, [301, 9, M.LR_DELIVERED, 5], M.E_CLIENT],
    ["a local report with an unknown outcome", M.LOCAL_REPORT, [301, EV, 6, 5], M.E_RANGE],
    ["a local report with outcome 0", M.LOCAL_REPORT, [301, EV, 0, 5], M.E_RANGE],
    ["a local report of request 0", M.LOCAL_REPORT, [0, EV, M.LR_DELIVERED, 5], M.E_RANGE],
    ["a local report with negative packets", M.LOCAL_REPORT, [301, EV, M.LR_DELIVERED, -5], M.E_SHAPE],
    ["a local report with a client that is text", M.LOCAL_REPORT, [301, EV, M.LR_DELIVERED, 5, 302, "1", M.LR_RUNNING, 1], M.E_SHAPE],
    ["a local report with an unknown outcome before an unknown client", M.LOCAL_REPORT, [301, EV, 9, 5, 302, 9, M.LR_RUNNING, 1], M.E_CLIENT],
    ["a restore with a field missing", M.RESTORE, [1, 2, 3, 4, [], [], []], M.E_SHAPE],
    ["a restore with a negative backup mark", M.RESTORE, [1, 2, 3, 4, [], [], [], -1], M.E_SHAPE],
    ["a restore with a bad pairing", M.RESTORE, [1, 2, 3, 4, [], [[2, M.KIND_ENERGY, 16, 3, 11000, 2, "EV"]], [], 0], M.E_RANGE],
    ["a restore with an unpairing", M.RESTORE, [1, 2, 3, 4, [], [[2, 0]], [], 0], M.E_SHAPE],
    ["a restore with seventeen clients", M.RESTORE, [1, 2, 3, 4, [], Array(17).fill([2, M.KIND_ENERGY, 1, 3, 11000, 2, "EV"]), [], 0], M.E_SHAPE],
    ["a restore with a request for an unknown client", M.RESTORE, [1, 2, 3, 4, [], [], [[5, 9, M.KIND_ENERGY, 0, 10, 10, 10]], 0], M.E_CLIENT],
    ["a restore with a request beyond the horizon", M.RESTORE, [1, 2, 3, 4, [], [], [[5, EV, M.KIND_ENERGY, 0, 145, 10, 10]], 0], M.E_HORIZON],
  ];
  it.each(bad)("%s is refused", (_, type, body, reason) => {
    expect(M.validateBody(type, body, lim)).toBe(reason);
  });

  it("a body with any one field replaced by a random value never throws and is either valid or refused with a known reason", () => {
    const reasons = new Set([0, M.E_SHAPE, M.E_RANGE, M.E_CLIENT, M.E_HORIZON, M.E_ORDER, M.E_POWER]);
    const anyValue: fc.Arbitrary<CborValue> = fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), fc.constant(null), fc.boolean(), fc.string({ maxLength: 3 }), fc.array(fc.integer({ min: -5, max: 500 }), { maxLength: 5 }), fc.double());
    fc.assert(
      fc.property(limitsAndMessageArb, fc.nat(), anyValue, ({ lim, msg }, at, v) => {
        const body = Array.isArray(msg.body) ? structuredClone(msg.body) : msg.body;
        if (Array.isArray(body) && body.length > 0) {
          const i = at % body.length;
          const inner = body[i];
          if (Array.isArray(inner) && inner.length > 0 && at % 2 === 0) inner[at % inner.length] = v;
          else body[i] = v;
        }
        return reasons.has(M.validateBody(msg.type, body, lim));
      }),
      { numRuns: 5000 },
    );
  });

  it("types are up (1-15) or down (16-31), and each knows its direction", () => {
    const up = [M.HELLO, M.REQUEST, M.ACK, M.EMERGENCY, M.TELEMETRY, M.PAIRING, M.NACK_UP, M.BACKUP, M.LOCAL_REPORT];
    const down = [M.ACCEPT, M.REJECT, M.SCHEDULE, M.HEARTBEAT, M.CONFIG, M.NACK_DOWN, M.STORED, M.RESTORE];
    for (const t of up) expect([t, M.isUp(t), M.isKnownType(t)]).toEqual([t, true, true]);
    for (const t of down) expect([t, M.isUp(t), M.isKnownType(t)]).toEqual([t, false, true]);
    for (const t of [0, 10, 15, 24, 31, 32, -1]) expect(M.isKnownType(t)).toBe(false);
  });
});
