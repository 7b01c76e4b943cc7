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
// tick() both acts on a deadline that has come (when the timer fired) and
// sets the timer for the state's next one, so the two cannot disagree.
//
// QoS 1 out ([MQTT-4.3.2], [MQTT-4.4.0-1]): publish() encodes the frame once
// and keeps it in a queue of at most maxQueue entries until its PUBACK.
// Frames go out in queue order, at most maxInFlight unacknowledged at a time,
// so the entries written on this connection are always the queue's first
// ones. When a connection ends, every frame written on it gets its DUP bit
// set ([3.3.1.1]) and is written again, same packet id, after the next
// CONNACK and before any frame never sent. While connected, a frame unacknowledged for retryMs is
// written again with DUP.
//
// The session is persistent (cleanSession 0, [3.1.2.4]): the broker keeps
// the subscriptions and queues QoS 1 messages while the router is away. The
// router still subscribes after every CONNACK, in case the broker lost the
// session (restarted without storage, or expired it).

import type { Clock, Socket, SocketOptions } from "../hal/types";
import {
  encodeConnect,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  encodeDisconnect,
  encodePingreq,
  MQTT_CONNACK,
  MQTT_PUBACK,
  MQTT_PUBLISH,
  MQTT_SUBACK,
  MqttParser,
} from "../protocol/mqtt";

export interface LinkOptions {
  clock: Clock;
  /** Opens a TCP connection (Hal.connect). */
  connect: (o: SocketOptions) => Socket;
  host: string;
  port: number;
  /** ASCII, not empty (a persistent session needs an id [MQTT-3.1.3-7]). */
  clientId: string;
  /** The broker user and password (ASCII), when the broker asks for them (the flasher's sden.net). */
  user?: string;
  password?: string;
  /** 1..65535 s: a PINGREQ when nothing was sent (or heard) for this long. */
  keepAliveS: number;
  /** Last will, QoS 1, retained: e.g. the status topic with "offline". */
  will: { topic: string; payload: Uint8Array };
  /** Published retained (QoS 1) right after every CONNACK: e.g. the status topic with "online". */
  online: { topic: string; payload: Uint8Array };
  /** Topic filters subscribed at QoS 1 after every CONNACK; at least one. */
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
/** CONNACKs with a refusal code. */
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

/** A queued QoS 1 message: the encoded PUBLISH, its packet id, when it was last written on this connection (-1: not on this one). */
type Entry = [Uint8Array, number, number];

export class Link {
  /** Counters, indexed by the LINK_ constants. */
  readonly counts: Uint32Array;
  private readonly o: LinkOptions;
  private readonly clock: Clock;
  private readonly parser: MqttParser;
  /** One options object for every connection: handlers made once, not per connect. */
  private readonly sockOpts: SocketOptions;
  private readonly onTimer: () => void;
  /** CONNECT with cleanSession 0 and the will (QoS 1, retained): the same for every connection. */
  private readonly connectFrame: Uint8Array;
  /** The QoS 1 queue, oldest first; an acknowledged message leaves at once (a PUBACK out of order closes the gap). */
  private readonly q: Entry[];
  /** IDLE, WAIT, OPENING, CONNECTING or UP. */
  private st = IDLE;
  private nextId = 1;
  /** When the timer fires, -1 when none is set. */
  private timerDueMs = -1;
  // Declared only: each is set before it is read. The connection's socket
  // also tells a handler whether the connection it served is still the one.
  declare private sock: Socket | null;
  /** Attempts since the last session that lasted backoffMaxMs (the back-off exponent). */
  declare private tries: number;
  /** WAIT: when to connect again; OPENING, CONNECTING: when to give up. */
  declare private dueMs: number;
  declare private upSinceMs: number;
  declare private lastInMs: number;
  declare private lastOutMs: number;
  /** A PINGREQ went out and nothing came back yet. */
  declare private pinging: boolean;
  declare private timer: number;
  /**
   * Packet ids taken on this connection (0 or unset: none): the online
   * PUBLISH, the SUBSCRIBE until its SUBACK. Set at every CONNACK; until
   * then the last connection's stay taken, which costs nothing.
   */
  declare private onlineId: number;
  declare private subId: number;

  constructor(o: LinkOptions) {
    this.o = o;
    this.clock = o.clock;
    this.counts = new Uint32Array(LINK_PUB_REFUSED + 1);
    this.parser = new MqttParser(o.maxFrameBytes);
    this.q = [];
    this.connectFrame = encodeConnect(o.clientId, o.keepAliveS, o.will.topic, o.will.payload, o.user, o.password);
    // Whatever goes out after every CONNACK must encode, or the session could
    // never work. (The encoders check the ids, topics and keep-alive range.)
    // The numbers are the caller's to keep in their ranges (LinkOptions):
    // firmware/agent.ts passes constants, and a keep-alive that
    // validateConfig holds to 10..3600 s.
    if (
      !this.connectFrame.length ||
      !encodePublish(o.online.topic, o.online.payload, 1, 1, false, true).length ||
      !encodeSubscribe(1, o.subscriptions, 1).length
    ) {
      throw new Error("Link: bad options");
    }
    this.sockOpts = {
      host: o.host,
      port: o.port,
      // TCP is up: CONNECT. (lastInMs and pinging matter once UP: the CONNACK's read sets them.)
      onConnect: () => {
        if (this.st === OPENING) {
          this.st = CONNECTING;
          this.send(this.connectFrame);
        }
      },
      onData: (d) => this.rx(d),
      // The connection closed under us: a drop (once IDLE or in WAIT, nothing is left to drop).
      onClose: () => {
        if (this.st >= OPENING) {
          this.sock = null;
          this.drop();
        }
      },
    };
    this.onTimer = () => this.tick(true);
  }

  /** Connects now, and reconnects after every loss until close(). */
  start(): void {
    if (this.st) return;
    this.tries = 0;
    this.open();
  }

  /**
   * Ends the session cleanly: DISCONNECT (so the broker discards the will,
   * [MQTT-3.14.4-3]) and no reconnect. Silent: no callback fires after it.
   * QoS 1 messages stay queued; start() sends them again.
   */
  close(): void {
    const said = this.st >= CONNECTING;
    if (!this.st) return;
    // IDLE first: a DISCONNECT that cannot be written drops the connection
    // without a callback (the session is no longer UP) and the timer the
    // drop sets is cleared just below.
    this.st = IDLE;
    if (said) this.send(encodeDisconnect());
    this.st = IDLE;
    if (this.timerDueMs >= 0) this.clock.clearTimeout(this.timer);
    this.timerDueMs = -1;
    this.release();
  }

  /**
   * QoS 1: queues the message (while down too) and returns its packet id, or
   * 0 when the queue is full or the topic or payload cannot be encoded.
   * QoS 0: writes it now when the session is up (returns 1), else drops it
   * (returns 0). The payload is copied. Never retained (only the status is).
   */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1): number {
    // Packet id 0 (a full queue) makes a QoS 1 frame empty; QoS 0 ignores it.
    const id = !qos ? 1 : this.q.length < this.o.maxQueue ? this.allocId() : 0;
    const f = encodePublish(topic, payload, qos, id, false, false);
    if (f.length) {
      if (qos) {
        this.q.push([f, id, -1]);
        this.tick();
        return id;
      }
      if (this.st === UP && this.send(f)) return 1;
    }
    this.counts[LINK_PUB_REFUSED]++;
    return 0;
  }

  /** Whether the session is up (CONNACK accepted and the connection open). */
  isUp(): boolean {
    return this.st === UP;
  }

  /** QoS 1 messages not yet acknowledged (in flight or waiting). */
  queued(): number {
    return this.q.length;
  }

  // --- connection ----------------------------------------------------------

  private open(): void {
    let s: Socket | null = null;
    this.st = OPENING;
    this.dueMs = this.clock.nowMs() + (this.o.connectTimeoutMs || LINK_CONNECT_TIMEOUT_MS);
    this.counts[LINK_ATTEMPTS]++;
    try {
      s = this.o.connect(this.sockOpts);
    } catch {
      // as a socket that closed at once
    }
    this.sock = s;
    // A socket that closed before connect() returned (onClose has moved on
    // to WAIT then) is closed and forgotten; a connect that failed at once
    // is a drop.
    if (this.st !== OPENING) this.release();
    else if (s) this.tick();
    else this.drop();
  }

  private rx(d: Uint8Array): void {
    const s = this.sock, parser = this.parser, o = this.o, q = this.q;
    if (this.st < CONNECTING) return;
    this.counts[LINK_BYTES_IN] += d.length;
    this.lastInMs = this.clock.nowMs();
    this.pinging = false;
    parser.push(d);
    // Packet by packet while the connection they came on lasts.
    for (let p = parser.next(); p && s === this.sock; p = parser.next()) {
      if (p.t === MQTT_CONNACK && this.st === CONNECTING) {
        if (p.rc) {
          this.drop(LINK_REFUSED);
          continue;
        }
        // CONNACK accepted: online, subscriptions, then the QoS 1 queue in order.
        this.st = UP;
        this.upSinceMs = this.lastInMs;
        this.counts[LINK_CONNECTS]++;
        this.onlineId = this.allocId();
        this.send(encodePublish(o.online.topic, o.online.payload, 1, this.onlineId, false, true));
        this.subId = this.allocId();
        this.send(encodeSubscribe(this.subId, o.subscriptions, 1));
        this.tick();
        if (s === this.sock) this.safely(o.onState, true);
      }
      // Nothing but one CONNACK may come first [MQTT-3.2.0-1], and nothing else before it.
      else if (this.st !== UP || p.t === MQTT_CONNACK) this.drop(LINK_BAD_FRAMES);
      // QoS 0 at once; QoS 1 PUBACKed after onMessage returns.
      else if (p.t === MQTT_PUBLISH) {
        if (this.safely(o.onMessage, p.topic, p.payload) && p.q && s === this.sock) this.send(encodePuback(p.id));
      } else if (p.t === MQTT_PUBACK) {
        // A PUBACK counts only for a frame written on this connection (the
        // queue's first ones); any other id is stale, or the online
        // PUBLISH's (whose id stays taken until the connection ends: one id
        // of 65,535). The message leaves the queue at once.
        let k = 0;
        while (k < q.length && q[k][2] >= 0 && q[k][1] !== p.id) k++;
        if (k < q.length && q[k][2] >= 0) {
          q.splice(k, 1);
          this.safely(o.onAcked, p.id);
          // Whatever the handler did (close() included), tick() acts on the state it left.
          this.tick();
        }
      } else if (p.t === MQTT_SUBACK && p.id === this.subId) {
        this.subId = 0;
        for (let k = 0; k < p.granted.length; k++) if (p.granted[k] === 0x80) this.counts[LINK_SUB_REFUSED]++;
      }
      // PINGRESP: the broker is alive, as noted above.
    }
    // The stream is out of sync: nothing after a bad frame can be trusted [MQTT-4.8.0-1].
    if (s === this.sock && parser.error) this.drop(LINK_BAD_FRAMES);
  }

  /**
   * The connection is lost (counted under reason, a LINK_ index, when given):
   * back off, then connect again. The back-off resets only after a session
   * that lasted backoffMaxMs, not on CONNACK: a broker that accepts and then
   * drops the router at once (overloaded, or refusing something the router
   * sends right after CONNACK) would otherwise see it every backoffMinMs;
   * this way a flapping session costs one connection per back-off, and a
   * long good one reconnects fast.
   */
  private drop(reason?: number): void {
    const wasUp = this.st === UP, now = this.clock.nowMs(), o = this.o;
    if (reason) this.counts[reason]++;
    // WAIT first: a socket that reported its close from inside close() finds nothing to drop.
    this.st = WAIT;
    this.release();
    if (wasUp) {
      this.counts[LINK_DROPS]++;
      if (now - this.upSinceMs >= o.backoffMaxMs) this.tries = 0;
    }
    this.dueMs = now + backoffMs(this.tries, o.backoffMinMs, o.backoffMaxMs, o.random());
    if (this.tries < 32) this.tries++;
    this.tick();
    if (wasUp) this.safely(o.onState, false);
  }

  /**
   * Ends the connection and what belongs to it. Frames written on it get
   * their DUP bit for the next write. (A HAL that queues the caller's bytes
   * without copying could still send a pending first copy with DUP set:
   * harmless, DUP is only a hint to the receiver [3.3.1.1], which handles a
   * QoS 1 PUBLISH the same either way.)
   */
  private release(): void {
    const s = this.sock, q = this.q;
    this.sock = null;
    try {
      if (s) s.close();
    } catch {
      // already gone
    }
    this.parser.reset();
    for (let k = 0; k < q.length; k++) {
      if (q[k][2] >= 0) q[k][0][0] |= 8;
      q[k][2] = -1;
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

  /** Calls a handler; false (counted) when it threw. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private safely(f: ((a: any, b?: any) => void) | undefined, a: unknown, b?: unknown): boolean {
    try {
      if (f) f(a, b);
      return true;
    } catch {
      this.counts[LINK_HANDLER_ERRORS]++;
      return false;
    }
  }

  // --- QoS 1 queue ---------------------------------------------------------

  /** The next packet id, 1..65535 wrapping, skipping ids still awaiting an answer [MQTT-2.3.1-2]. */
  private allocId(): number {
    const q = this.q;
    for (;;) {
      const id = this.nextId;
      let k = 0;
      this.nextId = id >= 65535 ? 1 : id + 1;
      while (k < q.length && q[k][1] !== id) k++;
      if (k === q.length && id !== this.onlineId && id !== this.subId) return id;
    }
  }

  // --- the timer -----------------------------------------------------------

  /**
   * fire (the timer's call): does what is due in the current state.
   * Always: sets the timer for the state's earliest deadline unless it
   * already fires sooner. A timer that fires early finds nothing due and
   * sets itself again, so deadlines that move later (lastInMs, lastOutMs)
   * need no re-arming.
   *
   * Keep-alive [3.1.2.10]: PINGREQ when nothing was written for keepAliveS,
   * or nothing heard (so a router that only publishes QoS 0 still hears the
   * broker); a broker silent for 1.5 keep-alives is gone. Then the QoS 1
   * queue, fired or not: frames not yet on this connection go out, in queue
   * order, within the window; those unacknowledged for retryMs go again.
   */
  private tick(fire?: boolean): void {
    const now = this.clock.nowMs(), s = this.st, ka = this.o.keepAliveS * 1000, retryMs = this.o.retryMs, q = this.q;
    let due = this.dueMs;
    if (fire) this.timerDueMs = -1;
    if (!s) return;
    if (s < UP) {
      if (fire && now >= due) {
        if (s === WAIT) this.open();
        else this.drop(LINK_TIMEOUTS);
        return;
      }
    } else {
      if (fire) {
        if (now - this.lastInMs >= ka * 1.5) return this.drop(LINK_TIMEOUTS);
        if (now - this.lastOutMs >= ka || (!this.pinging && now - this.lastInMs >= ka)) {
          this.pinging = true;
          if (!this.send(encodePingreq())) return;
        }
      }
      // Pinging: only silence is left to wait for on the read side.
      due = Math.min(this.lastInMs + (this.pinging ? ka * 1.5 : ka), this.lastOutMs + ka);
      // The frames written on this connection are the queue's first ones.
      for (let k = 0; k < q.length && k < (this.o.maxInFlight || this.o.maxQueue); k++) {
        const e = q[k];
        if (e[2] < 0 || (fire && retryMs && now - e[2] >= retryMs)) {
          // DUP: written before, on this connection or an earlier one (release()).
          if (e[2] >= 0) e[0][0] |= 8;
          if (e[0][0] & 8) this.counts[LINK_RETRANSMITS]++;
          e[2] = now;
          if (!this.send(e[0])) return;
        }
        if (retryMs) due = Math.min(due, e[2] + retryMs);
      }
    }
    if (this.timerDueMs >= 0 && this.timerDueMs <= due) return;
    if (this.timerDueMs >= 0) this.clock.clearTimeout(this.timer);
    this.timerDueMs = due;
    this.timer = this.clock.setTimeout(this.onTimer, due > now ? due - now : 0);
  }
}
