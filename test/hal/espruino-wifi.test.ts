// hal/espruino joins the WiFi network the flasher stored in sden.net (tools/flash),
// on the Espruino stand-in: with its password, again 30 s after a failure,
// and not at all without a network or a driver.

import { afterEach, describe, expect, it } from "vitest";
import { espruinoHalWith } from "../../hal/espruino/hal";
import { NET_FILE } from "../../firmware/router";
import { installEspruinoStandin, type Standin } from "../support/espruino-standin";

/** A WiFi driver that records every join and answers as told. */
function fakeWifi(answers: (string | null)[]) {
  const joins: { ssid: string; password?: string }[] = [];
  return {
    joins,
    connect(ssid: string, options: { password?: string }, cb: (err?: unknown) => void) {
      joins.push({ ssid, password: options.password });
      cb(answers.shift() ?? null);
    },
  };
}

let st: Standin | undefined;
afterEach(() => st?.uninstall());

describe("WiFi on the Espruino backend", () => {
  it("joins the stored network with its password at start", () => {
    st = installEspruinoStandin();
    st.modules.storage.write(NET_FILE, JSON.stringify({ s: "home-net", p: "wifi-pw", u: "home-1", b: "broker-pw" }));
    const wifi = fakeWifi([null]);
    espruinoHalWith({ ...st.modules, wlan: wifi });
    expect(wifi.joins).toEqual([{ ssid: "home-net", password: "wifi-pw" }]);
  });

  it("tries again 30 s after a failed join, and stops once joined", () => {
    st = installEspruinoStandin();
    st.modules.storage.write(NET_FILE, JSON.stringify({ s: "home-net", p: "wifi-pw" }));
    const wifi = fakeWifi(["auth failed", "no AP found", null]);
    espruinoHalWith({ ...st.modules, wlan: wifi });
    expect(wifi.joins.length).toBe(1);
    st.board.clock.advance(29999);
    expect(wifi.joins.length).toBe(1);
    st.board.clock.advance(1);
    expect(wifi.joins.length).toBe(2);
    st.board.clock.advance(30000);
    expect(wifi.joins.length).toBe(3);
    st.board.clock.advance(120000);
    expect(wifi.joins.length).toBe(3);
  });

  it("joins nothing without a stored network, with a damaged file, or without a driver", () => {
    st = installEspruinoStandin();
    const wifi = fakeWifi([]);
    espruinoHalWith({ ...st.modules, wlan: wifi });
    st.modules.storage.write(NET_FILE, JSON.stringify({ u: "home-1", b: "broker-pw" }));
    espruinoHalWith({ ...st.modules, wlan: wifi });
    st.modules.storage.write(NET_FILE, "{not json");
    espruinoHalWith({ ...st.modules, wlan: wifi });
    expect(wifi.joins).toEqual([]);
    st.modules.storage.write(NET_FILE, JSON.stringify({ s: "home-net", p: "wifi-pw" }));
    expect(() => espruinoHalWith(st!.modules)).not.toThrow();
  });
});
