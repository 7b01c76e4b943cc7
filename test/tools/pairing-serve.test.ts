// `npm run pairing` (tools/pairing/serve.ts): the page is one self-contained
// file that loads nothing from elsewhere, served on 127.0.0.1 only, with the
// service worker that keeps it for offline use.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPairingPage, startPairingServer, type PairingPage, type PairingServer } from "../../tools/pairing/serve";

let page: PairingPage;
let server: PairingServer;

beforeAll(async () => {
  page = await buildPairingPage();
  server = await startPairingServer(0, page);
});

afterAll(async () => {
  await server?.close();
});

function get(path: string, method = "GET"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, path, method }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the built page", () => {
  it("is one file: its script and style inline, nothing loaded from elsewhere", () => {
    const html = page.html;
    expect(html).toMatch(/<script>[\s\S]+<\/script>/);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(?:src|href)=["']?(?:https?:)?\/\//i);
    // The browser enforces it: no request to anywhere, no script from anywhere.
    expect(html).toContain(`content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; worker-src 'self'"`);
  });

  it("bundles the Espruino UART transport without the code transpiler", () => {
    expect(page.html).toContain("6e400001-b5a3-f393-e0a9-e50e24dcca9e");
    expect(page.html).not.toMatch(/esprima|escodegen/i);
    expect(page.html.length).toBeLessThan(150_000);
  });

  it("the service worker keeps this build, named by its hash", () => {
    expect(page.serviceWorker).toMatch(/const CACHE = "sden-pairing-[0-9a-f]{12}";/);
    expect(page.serviceWorker).toContain('c.addAll(["./"])');
  });
});

describe("the server", () => {
  it("listens on 127.0.0.1 only and gives a localhost address", async () => {
    expect(server.address).toBe("127.0.0.1");
    expect(server.url).toBe(`http://localhost:${server.port}/`);
    // From this machine's other addresses (when it has one) the page is not reachable.
    const lan = Object.values(networkInterfaces()).flat().find((i) => i && i.family === "IPv4" && !i.internal);
    if (lan) {
      const reached = await new Promise<boolean>((resolve) => {
        const req = http.get({ host: lan.address, port: server.port, path: "/", timeout: 2000 }, () => resolve(true));
        req.on("error", () => resolve(false));
        req.on("timeout", () => {
          req.destroy();
          resolve(false);
        });
      });
      expect(reached).toBe(false);
    }
  });

  it("serves the page, the service worker, and nothing else", async () => {
    const root = await get("/");
    expect(root.status).toBe(200);
    expect(root.type).toBe("text/html; charset=utf-8");
    expect(root.body).toBe(page.html);
    const sw = await get("/sw.js");
    expect(sw.status).toBe(200);
    expect(sw.type).toBe("text/javascript; charset=utf-8");
    expect((await get("/secrets.json")).status).toBe(404);
    expect((await get("/", "POST")).status).toBe(405);
  });
});

describe("npm run pairing", () => {
  it("--out writes the self-contained page", () => {
    const dir = mkdtempSync(join(tmpdir(), "sden-pairing-"));
    try {
      const file = join(dir, "pairing.html");
      const out = execFileSync(process.execPath, ["--import", "tsx", "tools/pairing/serve.ts", "--out", file], { encoding: "utf8" });
      expect(out).toMatch(/^wrote .*pairing\.html \(\d+ bytes\): one self-contained page/);
      expect(readFileSync(file, "utf8")).toBe(page.html);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a bad port, naming the option and what it got", () => {
    let err = "";
    try {
      execFileSync(process.execPath, ["--import", "tsx", "tools/pairing/serve.ts", "--port", "http"], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
    }
    expect(err).toContain('--port: must be a whole number from 0 to 65535; got "http"');
  });
});
