// The router's MQTT 3.1.1 session with the broker (design section 5), over
// the HAL socket: connect with a last will, publish "online", resubscribe,
// keep QoS 1 publishes until PUBACK across reconnects, keep the connection
// alive, and reconnect forever with exponential back-off and jitter.
//
// States (one timer, always armed for the earliest deadline of the state):
//   | state      | what happens                        | deadline                          |
//   | IDLE       | before start(), after close()       | none                              |
//   | WAIT       | back-off before the next attempt    | the back-off → OPENING            |
//   | OPENING    | TCP connect under way               | connectTimeoutMs → WAIT           |
//   | CONNECTING | CONNECT sent, waiting for CONNACK   | connectTimeoutMs → WAIT           |
//   | UP         | CONNACK 0 received                  | PINGREQ, silence (1.5 keep-alive), |
//   |            |                                     | retry of the oldest QoS 1 publish |
// Any error (socket closed, parser error, refusal, timeout) goes to WAIT.
//
// QoS 1 out ([MQTT-4.3.2], [MQTT-4.4.0-1]): publish() encodes the frame once
// and keeps it in a ring of maxQueue slots until its PUBACK. Frames go out in
// queue order, at most maxInFlight unacknowledged at a time. When a
// connection ends, every frame written on it gets its DUP bit set ([3.3.1.1])
// and is written again, same packet id, after the next CONNACK and before any
// frame never sent. While connected, a frame unacknowledged for retryMs is
// written again with DUP.
//
// The session is persistent (cleanSession 0, [3.1.2.4]): the broker keeps
// the subscriptions and queues QoS 1 messages while the router is away. The
// router still subscribes after every CONNACK, in case the broker lost the
// session (restarted without storage, or expired it).

import type { Clock, Socket, SocketOptions } from "../hal/types";
import {
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  MQTT_CONNACK,
  MQTT_PUBACK,
  MQTT_PUBLISH,
  MQTT_SUBACK,
  MqttParser,
} from "../protocol/mqtt";
import type { MqttPacket, MqttPublish } from "../protocol/mqtt";

export interface LinkOptions {
  clock: Clock;
  /** Opens a TCP connection (Hal.connect). */
  connect: (o: SocketOptions) => Socket;
  host: string;
  port: number;
  /** ASCII, not empty (a persistent session needs an id [MQTT-3.1.3-7]). */
  clientId: string;
  username?: string;
  /** Bytes as char codes 0..255; only with a username. */
  password?: string;
  /** 1..65535 s: a PINGREQ when nothing was sent (or heard) for this long. */
  keepAliveS: number;
  /** Last will, QoS 1, retained: e.g. the status topic with "offline". */
  will: { topic: string; payload: Uint8Array };
  /** Published retained (QoS 1) right after every CONNACK: e.g. the status topic with "online". */
  online: { topic: string; payload: Uint8Array };
  /** Topic filters subscribed at QoS 1 after every CONNACK. */
  subscriptions: string[];
  /** The largest frame (Remaining Length) accepted from the broker; a bigger one drops the connection. */
  maxFrameBytes: number;
  /** QoS 1 messages held (in flight or waiting), 1..1000; publish() refuses beyond it. */
  maxQueue: number;
  /** QoS 1 messages written and not yet acknowledged at a time (default: maxQueue); bounds what the socket buffers. */
  maxInFlight?: number;
  /** The first wait before reconnecting, > 0. */
  backoffMinMs: number;
  /** The longest wait, >= backoffMinMs; also how long a session must last to reset the back-off. */
  backoffMaxMs: number;
  /** Uniform in [0, 1): the jitter of the back-off. */
  random: () => number;
  /** While connected, a QoS 1 publish unacknowledged this long is written again with DUP; 0: only after a reconnect. */
  retryMs: number;
  /** TCP connect plus CONNACK must take less than this (default LINK_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /**
   * An incoming PUBLISH. For QoS 1 the PUBACK is sent after this returns, so
   * the handler can persist first; if it throws, no PUBACK (the broker
   * sends the message again on a later connection). The payload may share
   * memory with the socket's read: copy it to keep it.
   */
  onMessage: (topic: string, payload: Uint8Array) => void;
  /** The session came up (CONNACK accepted, SUBSCRIBE sent) or went down. Not called for close(). */
  onState?: (up: boolean) => void;
  /** A QoS 1 publish was acknowledged: its packet id as publish() returned it; it has left the queue. */
  onAcked?: (id: number) => void;
}

// Indexes of Link.counts. Each count wraps at 2^32.
/** Bytes written to the socket. */
export const LINK_BYTES_OUT = 0;
/** Bytes read from the socket. */
export const LINK_BYTES_IN = 1;
/** TCP connections opened (attempts). */
export const LINK_ATTEMPTS = 2;
/** Sessions that came up (CONNACK accepted). */
export const LINK_CONNECTS = 3;
/** Sessions that went down other than by close(). */
export const LINK_DROPS = 4;
/** QoS 1 publishes written again with DUP, after a reconnect or retryMs. */
export const LINK_RETRANSMITS = 5;
/** CONNACKs with a refusal code (the last code is in Link.refusedCode). */
export const LINK_REFUSED = 6;
/** Frames the parser refused, or a packet out of place: the connection was dropped. */
export const LINK_BAD_FRAMES = 7;
/** Connections given up for silence: no CONNACK in time, or the broker quiet for 1.5 keep-alives. */
export const LINK_TIMEOUTS = 8;
/** onMessage, onState or onAcked threw (after onMessage: the QoS 1 message went unacknowledged). */
export const LINK_HANDLER_ERRORS = 9;
/** Topic filters the broker refused (SUBACK 0x80). */
export const LINK_SUB_REFUSED = 10;
/** publish() calls refused: QoS 1 queue full, QoS 0 while down, or a topic or payload that cannot be encoded. */
export const LINK_PUB_REFUSED = 11;
const LINK_COUNTS = 12;

/** Default limit for TCP connect plus CONNACK. */
export const LINK_CONNECT_TIMEOUT_MS = 10000;

const IDLE = 0;
const WAIT = 1;
const OPENING = 2;
const CONNECTING = 3;
const UP = 4;

/**
 * The wait before reconnect attempt n (0 for the first after a drop):
 * minMs doubled n times, at most maxMs, then a point between half and all
 * of it chosen by r in [0, 1), so routers cut off together (a broker
 * restart) do not all come back in the same instant.
 */
export function backoffMs(n: number, minMs: number, maxMs: number, r: number): number {
  let d = minMs;
  // A random() outside [0, 1) (NaN included) must not make the wait NaN: the timer would spin.
  if (!(r >= 0 && r < 1)) r = 0;
  for (let k = 0; k < n && d < maxMs; k++) d *= 2;
  if (d > maxMs) d = maxMs;
  // Two floors, so that r close to 1 cannot round up to d itself.
  const half = Math.floor(d / 2);
  return half + Math.floor(r * (d - half));
}

function check(ok: boolean, field: string, got: unknown): void {
  if (!ok) throw new Error("Link: bad " + field + ": " + got);
}

function isWhole(v: number, min: number, max: number): boolean {
  return typeof v === "number" && Math.floor(v) === v && v >= min && v <= max;
}

export class Link {
  /** Counters, indexed by the LINK_ constants. */
  readonly counts: Uint32Array;
  /** The return code of the last refused CONNACK (0: none yet). */
  refusedCode = 0;
  private readonly o: LinkOptions;
  private readonly clock: Clock;
  private readonly parser: MqttParser;
  /** One options object for every connection: handlers made once, not per connect. */
  private readonly sockOpts: SocketOptions;
  private readonly onTimer: () => void;
  private readonly subQos: number[];
  /** CONNECT with cleanSession 0 and the will (QoS 1, retained): the same for every connection. */
  private readonly connectFrame: Uint8Array;
  private readonly keepAliveMs: number;
  private readonly maxQueue: number;
  private readonly window: number;
  private readonly connectTimeoutMs: number;
  private state = IDLE;
  private sock: Socket | null = null;
  /** Goes up whenever a connection ends, so a handler can tell that the one it served is gone. */
  private gen = 0;
  /** Attempts since the last session that lasted backoffMaxMs (the back-off exponent). */
  private tries = 0;
  /** WAIT: when to connect again. */
  private dueMs = 0;
  private attemptMs = 0;
  private upSinceMs = 0;
  private lastInMs = 0;
  private lastOutMs = 0;
  /** A PINGREQ went out and nothing came back yet. */
  private pinging = false;
  /** When the timer fires, -1 when none is set. */
  private timerDueMs = -1;
  private timer = 0;
  private nextId = 1;
  /** Packet ids awaiting their answer on this connection (0: none): the online PUBLISH, the SUBSCRIBE. */
  private onlineId = 0;
  private subId = 0;
  // The QoS 1 ring, oldest first from qHead for qLen slots: slot i holds an
  // encoded PUBLISH, its packet id, and when it was last written on this
  // connection (-1: not on this one). An acknowledged message leaves at once
  // (a PUBACK out of order closes the gap), so qLen messages are held.
  private readonly qFrame: (Uint8Array | undefined)[];
  private readonly qId: Uint16Array;
  private readonly qSentMs: Float64Array;
  private qHead = 0;
  private qLen = 0;
  private inFlight = 0;

  constructor(o: LinkOptions) {
    check(isWhole(o.keepAliveS, 1, 65535), "keepAliveS", o.keepAliveS);
    check(isWhole(o.maxQueue, 1, 1000), "maxQueue", o.maxQueue);
    check(o.maxInFlight === undefined || isWhole(o.maxInFlight, 1, o.maxQueue), "maxInFlight", o.maxInFlight);
    check(o.backoffMinMs > 0 && o.backoffMaxMs >= o.backoffMinMs, "backoffMinMs/backoffMaxMs", o.backoffMinMs + "/" + o.backoffMaxMs);
    check(o.retryMs >= 0, "retryMs", o.retryMs);
    check(o.clientId.length > 0, "clientId", o.clientId);
    check(o.subscriptions.length < 256, "subscriptions", o.subscriptions.length);
    this.o = o;
    this.clock = o.clock;
    this.counts = new Uint32Array(LINK_COUNTS);
    this.parser = new MqttParser(o.maxFrameBytes);
    this.keepAliveMs = o.keepAliveS * 1000;
    this.maxQueue = o.maxQueue;
    this.window = o.maxInFlight === undefined ? o.maxQueue : o.maxInFlight;
    this.connectTimeoutMs = o.connectTimeoutMs === undefined ? LINK_CONNECT_TIMEOUT_MS : o.connectTimeoutMs;
    this.subQos = [];
    for (let k = 0; k < o.subscriptions.length; k++) this.subQos.push(1);
    this.connectFrame = encodeConnect({
      clientId: o.clientId,
      keepAliveS: o.keepAliveS,
      cleanSession: false,
      username: o.username,
      password: o.password,
      will: { topic: o.will.topic, payload: o.will.payload, qos: 1, retain: true },
    });
    // Whatever goes out after every CONNACK must encode, or the session could never work.
    check(this.connectFrame.length > 0, "clientId, username, password or will", o.clientId);
    check(encodePublish(o.online.topic, o.online.payload, 1, 1, false, true).length > 0, "online", o.online.topic);
    check(!o.subscriptions.length || encodeSubscribe(1, o.subscriptions, this.subQos).length > 0, "subscriptions", o.subscriptions);
    // Sparse: Espruino stores only the slots that hold a frame.
    this.qFrame = [];
    this.qId = new Uint16Array(o.maxQueue);
    this.qSentMs = new Float64Array(o.maxQueue);
    for (let k = 0; k < o.maxQueue; k++) this.qSentMs[k] = -1;
    this.sockOpts = {
      host: o.host,
      port: o.port,
      onConnect: () => this.connected(),
      onData: (d) => this.data(d),
      onClose: () => this.closed(),
    };
    this.onTimer = () => this.tick();
  }

  /** Connects now, and reconnects after every loss until close(). */
  start(): void {
    if (this.state !== IDLE) return;
    this.tries = 0;
    this.open();
  }

  /**
   * Ends the session cleanly: DISCONNECT (so the broker discards the will,
   * [MQTT-3.14.4-3]) and no reconnect. Silent: no callback fires after it.
   * QoS 1 messages stay queued; start() sends them again.
   */
  close(): void {
    if (this.state === IDLE) return;
    const said = this.state >= CONNECTING;
    this.state = IDLE;
    this.cancelTimer();
    this.release(said);
  }

  /**
   * QoS 1: queues the message (while down too) and returns its packet id, or
   * 0 when the queue is full or the topic or payload cannot be encoded.
   * QoS 0: writes it now when the session is up (returns 1), else drops it
   * (returns 0). The payload is copied.
   */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain?: boolean): number {
    const keep = retain === true;
    if (qos !== 1) {
      const f0 = this.state === UP ? encodePublish(topic, payload, 0, 0, false, keep) : null;
      if (!f0 || !f0.length || !this.send(f0)) return this.refuse();
      return 1;
    }
    if (this.qLen >= this.maxQueue) return this.refuse();
    const id = this.allocId();
    const f = encodePublish(topic, payload, 1, id, false, keep);
    if (!f.length) return this.refuse();
    const i = (this.qHead + this.qLen) % this.maxQueue;
    this.qFrame[i] = f;
    this.qId[i] = id;
    this.qSentMs[i] = -1;
    this.qLen++;
    if (this.state === UP) {
      this.pump();
      this.arm();
    }
    return id;
  }

  /** Whether the session is up (CONNACK accepted and the connection open). */
  isUp(): boolean {
    return this.state === UP;
  }

  /** QoS 1 messages not yet acknowledged (in flight or waiting). */
  queued(): number {
    return this.qLen;
  }

  /** Frames the parser refused, by reason (index MQTT_E_*), across connections. */
  refusedFrames(): Uint16Array {
    return this.parser.refused;
  }

  private refuse(): number {
    this.counts[LINK_PUB_REFUSED]++;
    return 0;
  }

  // --- connection ----------------------------------------------------------

  private open(): void {
    const gen = this.gen;
    let s: Socket | null;
    this.state = OPENING;
    this.attemptMs = this.clock.nowMs();
    this.counts[LINK_ATTEMPTS]++;
    try {
      s = this.o.connect(this.sockOpts);
    } catch {
      s = null;
    }
    // A connect that failed at once, or whose socket closed before connect() returned.
    if (!s || gen !== this.gen || this.state !== OPENING) {
      if (s) this.closeSocket(s);
      if (this.state === OPENING) this.drop();
      return;
    }
    this.sock = s;
    this.arm();
  }

  private connected(): void {
    if (this.state !== OPENING) return;
    this.state = CONNECTING;
    this.lastInMs = this.clock.nowMs();
    this.send(this.connectFrame);
  }

  private data(d: Uint8Array): void {
    if (this.state < CONNECTING) return;
    const gen = this.gen;
    const parser = this.parser;
    this.counts[LINK_BYTES_IN] += d.length;
    this.lastInMs = this.clock.nowMs();
    this.pinging = false;
    parser.push(d);
    for (;;) {
      const p = parser.next();
      if (!p) break;
      this.handle(p);
      if (gen !== this.gen) return;
    }
    // The stream is out of sync: nothing after a bad frame can be trusted [MQTT-4.8.0-1].
    if (parser.error) this.badFrame();
  }

  private closed(): void {
    if (this.state < OPENING) return;
    this.sock = null;
    this.drop();
  }

  private handle(p: MqttPacket): void {
    if (p.t === MQTT_CONNACK) {
      if (this.state !== CONNECTING) this.badFrame();
      else if (p.rc) {
        this.refusedCode = p.rc;
        this.counts[LINK_REFUSED]++;
        this.drop();
      } else this.up();
      return;
    }
    // Nothing but CONNACK may come first [MQTT-3.2.0-1].
    if (this.state !== UP) this.badFrame();
    else if (p.t === MQTT_PUBLISH) this.deliver(p);
    else if (p.t === MQTT_PUBACK) this.acked(p.id);
    else if (p.t === MQTT_SUBACK) {
      if (p.id !== this.subId) return;
      this.subId = 0;
      for (let k = 0; k < p.granted.length; k++) if (p.granted[k] === 0x80) this.counts[LINK_SUB_REFUSED]++;
    }
    // PINGRESP: data() has noted that the broker is alive.
  }

  /** CONNACK accepted: online, subscriptions, then the QoS 1 queue in order. */
  private up(): void {
    const gen = this.gen;
    const o = this.o;
    this.state = UP;
    this.upSinceMs = this.clock.nowMs();
    this.counts[LINK_CONNECTS]++;
    this.onlineId = this.allocId();
    this.send(encodePublish(o.online.topic, o.online.payload, 1, this.onlineId, false, true));
    if (o.subscriptions.length && this.state === UP) {
      this.subId = this.allocId();
      this.send(encodeSubscribe(this.subId, o.subscriptions, this.subQos));
    }
    this.pump();
    if (gen !== this.gen) return;
    this.arm();
    this.notify(true);
  }

  /** QoS 0 at once; QoS 1 PUBACKed after onMessage returns. */
  private deliver(p: MqttPublish): void {
    const gen = this.gen;
    try {
      this.o.onMessage(p.topic, p.payload);
    } catch {
      this.counts[LINK_HANDLER_ERRORS]++;
      return;
    }
    if (p.q && gen === this.gen) this.send(encodePuback(p.id));
  }

  private badFrame(): void {
    this.counts[LINK_BAD_FRAMES]++;
    this.drop();
  }

  /**
   * The connection is lost: back off, then connect again. The back-off
   * resets only after a session that lasted backoffMaxMs, not on CONNACK: a
   * broker that accepts and then drops the router at once (overloaded, or
   * refusing something the router sends right after CONNACK) would
   * otherwise see it every backoffMinMs; this way a flapping session costs
   * one connection per back-off, and a long good one reconnects fast.
   */
  private drop(): void {
    const wasUp = this.state === UP;
    const now = this.clock.nowMs();
    // WAIT first: a socket that reported its close from inside close() finds nothing to drop.
    this.state = WAIT;
    this.release(false);
    if (wasUp) {
      this.counts[LINK_DROPS]++;
      if (now - this.upSinceMs >= this.o.backoffMaxMs) this.tries = 0;
    }
    this.dueMs = now + backoffMs(this.tries, this.o.backoffMinMs, this.o.backoffMaxMs, this.o.random());
    if (this.tries < 32) this.tries++;
    this.arm();
    if (wasUp) this.notify(false);
  }

  /**
   * Ends the connection (after DISCONNECT when asked) and what belongs to
   * it. Frames written on it get their DUP bit for the next write. (A HAL
   * that queues the caller's bytes without copying could still send a
   * pending first copy with DUP set: harmless, DUP is only a hint to the
   * receiver [3.3.1.1], which handles a QoS 1 PUBLISH the same either way.)
   */
  private release(disconnect: boolean): void {
    const s = this.sock;
    this.sock = null;
    this.gen++;
    if (s) {
      if (disconnect) {
        try {
          s.write(encodeDisconnect());
          this.counts[LINK_BYTES_OUT] += 2;
        } catch {
          // closing anyway
        }
      }
      this.closeSocket(s);
    }
    this.parser.reset();
    this.onlineId = 0;
    this.subId = 0;
    this.pinging = false;
    this.inFlight = 0;
    for (let k = 0; k < this.qLen; k++) {
      const i = (this.qHead + k) % this.maxQueue;
      const f = this.qFrame[i];
      if (f && this.qSentMs[i] >= 0) f[0] |= 8;
      this.qSentMs[i] = -1;
    }
  }

  private closeSocket(s: Socket): void {
    try {
      s.close();
    } catch {
      // already gone
    }
  }

  /** Writes a frame; false (and the connection dropped) when it cannot. */
  private send(b: Uint8Array): boolean {
    const s = this.sock;
    if (!s || !b.length) return false;
    try {
      s.write(b);
    } catch {
      this.drop();
      return false;
    }
    this.counts[LINK_BYTES_OUT] += b.length;
    this.lastOutMs = this.clock.nowMs();
    return true;
  }

  private notify(up: boolean): void {
    const f = this.o.onState;
    if (!f) return;
    try {
      f(up);
    } catch {
      this.counts[LINK_HANDLER_ERRORS]++;
    }
  }

  // --- QoS 1 queue ---------------------------------------------------------

  /** Writes frames not yet on this connection, in queue order, within the window. */
  private pump(): void {
    const n = this.maxQueue;
    for (let k = 0; k < this.qLen && this.inFlight < this.window && this.state === UP; k++) {
      const i = (this.qHead + k) % n;
      const f = this.qFrame[i];
      if (!f || this.qSentMs[i] >= 0) continue;
      if (f[0] & 8) this.counts[LINK_RETRANSMITS]++;
      this.qSentMs[i] = this.clock.nowMs();
      this.inFlight++;
      this.send(f);
    }
  }

  private acked(id: number): void {
    const n = this.maxQueue;
    if (id === this.onlineId) {
      this.onlineId = 0;
      return;
    }
    // Only for a frame written on this connection; any other id is stale.
    let k = 0;
    while (k < this.qLen && (this.qId[(this.qHead + k) % n] !== id || this.qSentMs[(this.qHead + k) % n] < 0)) k++;
    if (k === this.qLen) return;
    const h = this.qHead;
    this.inFlight--;
    if (k === 0) {
      // In order, as a broker acknowledges [MQTT-4.6.0-2]: the ring starts one further.
      delete this.qFrame[h];
      this.qSentMs[h] = -1;
      this.qHead = (h + 1) % n;
    } else {
      // Out of order: the newer messages move up one slot.
      for (; k < this.qLen - 1; k++) {
        const i = (h + k) % n, j = (i + 1) % n;
        this.qFrame[i] = this.qFrame[j];
        this.qId[i] = this.qId[j];
        this.qSentMs[i] = this.qSentMs[j];
      }
      const last = (h + this.qLen - 1) % n;
      delete this.qFrame[last];
      this.qSentMs[last] = -1;
    }
    this.qLen--;
    const f = this.o.onAcked;
    if (f) {
      const gen = this.gen;
      try {
        f(id);
      } catch {
        this.counts[LINK_HANDLER_ERRORS]++;
      }
      if (gen !== this.gen) return;
    }
    this.pump();
  }

  /** The next packet id, 1..65535 wrapping, skipping ids still awaiting an answer [MQTT-2.3.1-2]. */
  private allocId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= 65535 ? 1 : id + 1;
      if (!this.inUse(id)) return id;
    }
  }

  private inUse(id: number): boolean {
    if (id === this.onlineId || id === this.subId) return true;
    for (let k = 0; k < this.qLen; k++) if (this.qId[(this.qHead + k) % this.maxQueue] === id) return true;
    return false;
  }

  // --- the timer -----------------------------------------------------------

  /** The earliest deadline of the current state, or -1. */
  private nextDueMs(): number {
    const s = this.state;
    if (s === WAIT) return this.dueMs;
    if (s === OPENING || s === CONNECTING) return this.attemptMs + this.connectTimeoutMs;
    if (s !== UP) return -1;
    const ka = this.keepAliveMs;
    let due = Math.min(this.lastInMs + ka + ka / 2, this.lastOutMs + ka);
    if (!this.pinging) due = Math.min(due, this.lastInMs + ka);
    if (this.o.retryMs > 0) {
      for (let k = 0; k < this.qLen; k++) {
        const i = (this.qHead + k) % this.maxQueue;
        if (this.qFrame[i] && this.qSentMs[i] >= 0) due = Math.min(due, this.qSentMs[i] + this.o.retryMs);
      }
    }
    return due;
  }

  /**
   * Sets the timer for the state's earliest deadline unless it already fires
   * sooner. A timer that fires early finds nothing due and sets itself again,
   * so deadlines that move later (lastInMs, lastOutMs) need no re-arming.
   */
  private arm(): void {
    const due = this.nextDueMs();
    if (due < 0 || (this.timerDueMs >= 0 && this.timerDueMs <= due)) return;
    this.cancelTimer();
    const wait = due - this.clock.nowMs();
    this.timerDueMs = due;
    this.timer = this.clock.setTimeout(this.onTimer, wait > 0 ? wait : 0);
  }

  private cancelTimer(): void {
    if (this.timerDueMs < 0) return;
    this.clock.clearTimeout(this.timer);
    this.timerDueMs = -1;
  }

  private tick(): void {
    this.timerDueMs = -1;
    const now = this.clock.nowMs();
    const s = this.state;
    if (s === WAIT) {
      if (now >= this.dueMs) this.open();
    } else if (s === OPENING || s === CONNECTING) {
      if (now - this.attemptMs >= this.connectTimeoutMs) {
        this.counts[LINK_TIMEOUTS]++;
        this.drop();
      }
    } else if (s === UP) this.keepAlive(now);
    this.arm();
  }

  /**
   * Keep-alive [3.1.2.10]: PINGREQ when nothing was written for keepAliveS,
   * or nothing heard (so a router that only publishes QoS 0 still hears the
   * broker); a broker silent for 1.5 keep-alives is gone. Then the retries.
   */
  private keepAlive(now: number): void {
    const ka = this.keepAliveMs;
    if (now - this.lastInMs >= ka + ka / 2) {
      this.counts[LINK_TIMEOUTS]++;
      this.drop();
      return;
    }
    if (now - this.lastOutMs >= ka || (!this.pinging && now - this.lastInMs >= ka)) {
      this.pinging = true;
      if (!this.send(encodePingreq())) return;
    }
    const retryMs = this.o.retryMs;
    if (!retryMs) return;
    for (let k = 0; k < this.qLen && this.state === UP; k++) {
      const i = (this.qHead + k) % this.maxQueue;
      const f = this.qFrame[i];
      if (!f || this.qSentMs[i] < 0 || now - this.qSentMs[i] < retryMs) continue;
      f[0] |= 8;
      this.qSentMs[i] = now;
      this.counts[LINK_RETRANSMITS]++;
      this.send(f);
    }
  }
}
