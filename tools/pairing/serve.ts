// `npm run pairing`: builds the technician's pairing page and serves it on
// 127.0.0.1 for the laptop's browser; `npm run pairing -- --out FILE` writes
// it as one self-contained HTML file instead (to copy to a phone or host).
//
// The page is built at start, not committed: esbuild bundles app.ts with
// @espruino-tools/core's UART into one inline script of the HTML, so the
// page makes no request of its own (its Content-Security-Policy forbids
// any) and needs no network once loaded. Served, it also registers a
// service worker that keeps the page: reloading works after the server or
// the network is gone (a technician in a basement).
//
// @espruino-tools/core's DeviceController imports its code transpiler
// (esprima and escodegen, 180 KB) for setInterval(), which the page never
// calls: the build puts a stub in its place that says so if it ever were.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

/** The default port of `npm run pairing`. */
export const DEFAULT_PORT = 8470;

const transpilerStub: Plugin = {
  name: "espruino-tools-transpiler-stub",
  setup(b) {
    b.onResolve({ filter: /^@espruino-tools\/transpiler$/ }, () => ({ path: "transpiler", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents: "export function transpile() { throw new Error('the pairing page does not bundle the Espruino code transpiler'); }",
      loader: "js",
    }));
  },
};

export interface PairingPage {
  /** The whole page: HTML with its style and script inline. */
  html: string;
  /** The service worker that keeps it for offline use. */
  serviceWorker: string;
}

/** Builds the page from tools/pairing/ (app.ts and page.html). */
export async function buildPairingPage(): Promise<PairingPage> {
  const out = await build({
    entryPoints: [join(here, "app.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    charset: "utf8",
    logLevel: "silent",
    plugins: [transpilerStub],
  });
  // "</script" inside the code would end the inline script early.
  const js = out.outputFiles[0].text.replace(/<\/(script)/gi, "<\\/$1");
  const template = readFileSync(join(here, "page.html"), "utf8");
  if (!template.includes("<!-- APP -->")) throw new Error("tools/pairing/page.html: the <!-- APP --> mark for the script is missing");
  const html = template.replace("<!-- APP -->", () => "<script>" + js + "</script>");
  const version = createHash("sha256").update(html).digest("hex").slice(0, 12);
  return { html, serviceWorker: serviceWorker(version) };
}

/**
 * The service worker: the page from the network when it answers (a newer
 * build replaces the kept copy), else the copy kept at the last visit.
 */
function serviceWorker(version: string): string {
  return `// sden-router pairing page, build ${version}
const CACHE = "sden-pairing-${version}";
self.addEventListener("install", (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(["./"])).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});
self.addEventListener("fetch", (e) => {
  if (e.request.method !== "GET") return;
  e.respondWith(
    fetch(e.request)
      .then((r) => {
        if (r.ok) {
          const copy = r.clone();
          caches.open(CACHE).then((c) => c.put(e.request, copy));
        }
        return r;
      })
      .catch(() => caches.match(e.request, { ignoreSearch: true }).then((r) => r || caches.match("./"))),
  );
});
`;
}

export interface PairingServer {
  /** The address it listens on: always 127.0.0.1 (the technician's own computer). */
  address: string;
  port: number;
  /** The address to open: "localhost", which browsers (and the UART library) treat as secure for Web Bluetooth. */
  url: string;
  close(): Promise<void>;
}

/** Serves the page on 127.0.0.1 (port 0: any free one). */
export async function startPairingServer(port = DEFAULT_PORT, page?: PairingPage): Promise<PairingServer> {
  const p = page ?? (await buildPairingPage());
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain; charset=utf-8", "only GET\n");
    if (path === "/" || path === "/index.html") return send(200, "text/html; charset=utf-8", p.html);
    if (path === "/sw.js") return send(200, "text/javascript; charset=utf-8", p.serviceWorker);
    send(404, "text/plain; charset=utf-8", "not here: the pairing page is at /\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const actual = bound.port;
  return {
    address: bound.address,
    port: actual,
    url: `http://localhost:${actual}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function usage(): never {
  console.error("usage: npm run pairing [-- --port N] [-- --out page.html]");
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  let port = DEFAULT_PORT;
  let outFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--port") {
      port = Number(argv[++i]);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        console.error(`--port: must be a whole number from 0 to 65535; got ${JSON.stringify(argv[i])}`);
        process.exit(2);
      }
    } else if (a === "--out") {
      outFile = argv[++i];
      if (!outFile) usage();
    } else usage();
  }
  const page = await buildPairingPage();
  if (outFile) {
    writeFileSync(outFile, page.html);
    console.log(`wrote ${outFile} (${page.html.length} bytes): one self-contained page. Open it in Chrome or Edge; Web Bluetooth needs a secure page (https://, file:// or http://localhost).`);
    return;
  }
  let s: PairingServer;
  try {
    s = await startPairingServer(port, page);
  } catch (e) {
    const code = (e as { code?: string }).code;
    console.error(code === "EADDRINUSE" ? `port ${port} is in use: pass another with npm run pairing -- --port N` : `cannot serve the page: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(`Pairing page: ${s.url}  (open it in Chrome or Edge on this computer; Ctrl-C stops)`);
  console.log("Once opened it also works offline: the browser keeps it.");
  const stop = () => void s.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
