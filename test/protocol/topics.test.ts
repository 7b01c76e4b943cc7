// The topics of one router (protocol/topics.ts): their names, the id rule,
// and that every topic they make is one the MQTT codec and mqtt-packet accept.

import fc from "fast-check";
import * as mqtt from "mqtt-packet";
import type { IConnectPacket, IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { encodeConnect, encodePublish, encodeSubscribe } from "../../protocol/mqtt";
import { isTopicId, STATUS_OFFLINE, TOPIC_ID_MAX, topicDown, topicLocal, topicLocalAnswer, topicStatus, topicUp } from "../../protocol/topics";
import { ascii } from "./mqtt-vectors";

const ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
const topicId = fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: TOPIC_ID_MAX });

function oracleParse(bytes: Uint8Array): mqtt.Packet {
  const parser = mqtt.parser({ protocolVersion: 4 });
  const out: mqtt.Packet[] = [];
  parser.on("packet", (p: mqtt.Packet) => out.push(p));
  parser.on("error", (e: Error) => {
    throw e;
  });
  parser.parse(Buffer.from(bytes));
  expect(out).toHaveLength(1);
  return out[0];
}

describe("topic names", () => {
  it("are sden/v1/<grid>/<router>/up, down and status", () => {
    expect(topicUp("g1", "r-7_A")).toBe("sden/v1/g1/r-7_A/up");
    expect(topicDown("g1", "r-7_A")).toBe("sden/v1/g1/r-7_A/down");
    expect(topicStatus("g1", "r-7_A")).toBe("sden/v1/g1/r-7_A/status");
  });

  it("are empty for an id that is not valid, so that no encoder sends them", () => {
    for (const [g, r] of [["", "r"], ["g", ""], ["a/b", "r"], ["g", "+"], ["#", "r"], ["g", "x".repeat(TOPIC_ID_MAX + 1)]]) {
      for (const topic of [topicUp(g, r), topicDown(g, r), topicStatus(g, r)]) {
        expect(topic).toBe("");
        expect(encodePublish(topic, new Uint8Array(1), 0, 0, false, false)).toHaveLength(0);
      }
    }
  });

  it("give back their grid and router ids, so no two routers share a topic", () => {
    fc.assert(
      fc.property(topicId, topicId, (g, r) => {
        expect(topicUp(g, r).split("/")).toEqual(["sden", "v1", g, r, "up"]);
        expect(topicDown(g, r).split("/")).toEqual(["sden", "v1", g, r, "down"]);
        expect(topicStatus(g, r).split("/")).toEqual(["sden", "v1", g, r, "status"]);
      }),
    );
  });

  it("are valid MQTT topic names: PUBLISH to each, SUBSCRIBE to down, parse with mqtt-packet", () => {
    fc.assert(
      fc.property(topicId, topicId, (g, r) => {
        for (const topic of [topicUp(g, r), topicDown(g, r), topicStatus(g, r)]) {
          const p = oracleParse(encodePublish(topic, new Uint8Array([1]), 1, 1, false, false)) as IPublishPacket;
          expect(p.topic).toBe(topic);
        }
        expect(oracleParse(encodeSubscribe(1, [topicDown(g, r)], 1))).toMatchObject({ subscriptions: [{ topic: topicDown(g, r), qos: 1 }] });
      }),
    );
  });

  it("the last will: 'offline', retained, on the status topic", () => {
    const c = oracleParse(
      encodeConnect("r1", 60, topicStatus("g1", "r1"), new Uint8Array(ascii(STATUS_OFFLINE))),
    ) as IConnectPacket;
    expect(c.will).toMatchObject({ topic: "sden/v1/g1/r1/status", payload: Buffer.from("offline"), qos: 1, retain: true });
  });
});

describe("isTopicId", () => {
  it("takes 1 to 24 letters, digits, '-' and '_'", () => {
    for (const id of ["a", "Z", "0", "-", "_", "grid-01_B", "x".repeat(TOPIC_ID_MAX)]) expect(isTopicId(id), id).toBe(true);
  });

  it("refuses the empty id, over-long ids, separators, wildcards, spaces, NUL and non-ASCII", () => {
    const bad = ["", "x".repeat(TOPIC_ID_MAX + 1), "a/b", "/", "+", "#", "a+", "a#", " ", "a b", "a.b", "a\u0000", "\u00e9", "caf\u00e9", "\u{1f600}", "$SYS"];
    for (const id of bad) expect(isTopicId(id), JSON.stringify(id)).toBe(false);
  });

  it("refuses what is not a string, without throwing", () => {
    for (const v of [undefined, null, 7, {}, ["a"]]) expect(isTopicId(v as unknown as string)).toBe(false);
  });

  it("agrees with the character rule on any string", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40, unit: "binary" }), (s) => {
        expect(isTopicId(s)).toBe(/^[A-Za-z0-9_-]{1,24}$/.test(s));
      }),
    );
  });
});

describe("the local topics of smart appliances", () => {
  it("sit under the router's topic, apart from the server's up and status filters", () => {
    expect(topicLocal("g1", "r0042")).toBe("sden/v1/g1/r0042/local");
    expect(topicLocalAnswer("g1", "r0042")).toBe("sden/v1/g1/r0042/local/answer");
    // The server subscribes to sden/v1/+/+/up and sden/v1/+/+/status: neither matches.
    for (const t of [topicLocal("g1", "r0042"), topicLocalAnswer("g1", "r0042")]) expect(/^sden\/v1\/[^/]+\/[^/]+\/(up|status)$/.test(t)).toBe(false);
    expect(topicLocal("g/1", "r")).toBe("");
    expect(topicLocalAnswer("g", "#")).toBe("");
  });
});
