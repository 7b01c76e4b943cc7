// docs/protocol.md cannot drift from the code: its examples are what the
// code produces, and its CDDL and reason table name every type and code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as C from "../../protocol/cbor";
import { decodeCbor } from "../../protocol/cbor";
import * as M from "../../protocol/messages";
import { DOC_PATH, diagnostic, renderExamples, withSection } from "../../tools/protocol/docs";
import { EXAMPLES } from "../../tools/protocol/examples";
import { fromHex } from "../support/bytes";

const doc = readFileSync(DOC_PATH, "utf8");

describe("docs/protocol.md", () => {
  it("its examples section is exactly what tools/protocol/docs.ts generates (run `npm run docs` after a change)", () => {
    expect(doc).toBe(withSection(doc, renderExamples()));
  });

  it("every hex example decodes on the device codec to the decoded form printed under it", () => {
    const blocks = [...doc.matchAll(/```\n([0-9a-f\n]+)```\n\n```cbor-diag\n(.+)\n```/g)];
    expect(blocks.length).toBe(EXAMPLES.length);
    for (const [, hex, diag] of blocks) {
      const d = decodeCbor(fromHex(hex), 5, 320);
      expect(d.e).toBe(0);
      expect(diagnostic(d.v)).toBe(diag);
    }
  });

  it("the CDDL gives every message type its envelope rule, with the type code the code uses", () => {
    const cddl = /```cddl\n([\s\S]+?)```/.exec(doc)?.[1] ?? "";
    const types: [string, number][] = [
      ["hello", M.HELLO],
      ["request", M.REQUEST],
      ["ack", M.ACK],
      ["emergency", M.EMERGENCY],
      ["telemetry", M.TELEMETRY],
      ["pairing", M.PAIRING],
      ["nack", M.NACK_UP],
      ["accept", M.ACCEPT],
      ["reject", M.REJECT],
      ["schedule", M.SCHEDULE],
      ["heartbeat", M.HEARTBEAT],
      ["config", M.CONFIG],
      ["nack", M.NACK_DOWN],
      ["backup", M.BACKUP],
      ["local-report", M.LOCAL_REPORT],
      ["stored", M.STORED],
      ["restore", M.RESTORE],
    ];
    for (const [name, code] of types) {
      expect(cddl, name).toContain(`[1, ${code}, seq, time, ${name}, mac]`);
      expect(cddl, name).toMatch(new RegExp(`^${name} = `, "m"));
    }
    expect(cddl.match(/\[1, \d+, seq, time, /g)?.length).toBe(types.length);
  });

  it("the reason table lists every reason code the codecs return, with its number", () => {
    const codes = Object.entries({ ...C, ...M }).filter(([k, v]) => /^(CBOR_)?E_/.test(k) && typeof v === "number" && !["CBOR_E_TYPE", "CBOR_E_FULL"].includes(k));
    expect(codes.length).toBe(23);
    for (const [name, code] of codes) expect(doc).toContain(`| ${code} | \`${name}\` |`);
  });
});
