// The MQTT 3.1.1 client codec (OASIS standard, 29 October 2014; design
// section 5). Encoders for what the router sends, a streaming parser for what
// the broker sends. QoS 0 and 1 only: the router never asks for QoS 2.
//
// Strings on Espruino are byte strings, so the codec keeps every string on the
// wire ASCII (topics, client id, user name) and treats the password as bytes
// (char codes 0..255). An encoder never throws and never makes a wrong frame:
// given something it cannot encode exactly, it returns an empty Uint8Array.

/** Control packet types [2.2.1]. */
export const MQTT_CONNECT = 1;
export const MQTT_CONNACK = 2;
export const MQTT_PUBLISH = 3;
export const MQTT_PUBACK = 4;
export const MQTT_SUBSCRIBE = 8;
export const MQTT_SUBACK = 9;
export const MQTT_PINGREQ = 12;
export const MQTT_PINGRESP = 13;
export const MQTT_DISCONNECT = 14;

/** The largest Remaining Length that four length bytes encode [2.2.3]. */
export const MQTT_MAX_REMAINING = 268435455;

// Why the parser refused the input. After any of them the parser stops; the
// client must close the network connection ([MQTT-4.8.0-1]).
/** Remaining Length above the parser's maximum frame size. */
export const MQTT_E_TOO_BIG = 1;
/**
 * Remaining Length in more than 4 bytes [2.2.3], or not in the fewest bytes
 * (3.1.1 only shows the minimal encoding; MQTT 5 requires it, [MQTT-1.5.5-1]);
 * or not the length the packet type has; or a length inside the packet (the
 * PUBLISH topic) running past its end.
 */
export const MQTT_E_BAD_LENGTH = 2;
/** A type a broker never sends a client: reserved 0 and 15, CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT [2.2.1]. */
export const MQTT_E_BAD_TYPE = 3;
/** Reserved bits set: fixed header flags [MQTT-2.2.2-2], PUBLISH QoS 3 [MQTT-3.3.1-4], CONNACK acknowledge flags 7-1 [3.2.2.1]. */
export const MQTT_E_BAD_FLAGS = 4;
/** Bad contents: packet id 0 [MQTT-2.3.1-1], unknown CONNACK return code [3.2.2.3] or session present with a refusal [MQTT-3.2.2-4], SUBACK return code other than 0, 1, 2, 0x80 [3.9.3], PUBLISH topic empty, non-ASCII, with NUL or a wildcard [MQTT-4.7.3-1, MQTT-1.5.3-2, MQTT-3.3.2-2]. */
export const MQTT_E_MALFORMED = 5;
/** Valid MQTT the router never asks for: QoS 2 (PUBLISH QoS 2, PUBREC, PUBREL, PUBCOMP) and UNSUBACK. */
export const MQTT_E_UNSUPPORTED = 6;

// The packets a broker sends a client, as the parser returns them.
/** CONNACK [3.2]: sp = session present, rc = return code (0 accepted, 1..5 refused). */
export interface MqttConnack { t: typeof MQTT_CONNACK; sp: boolean; rc: number }
/**
 * PUBLISH [3.3]: q = QoS, id = packet id (0 with QoS 0), d = DUP, r = RETAIN.
 * The payload may share memory with the chunk given to push().
 */
export interface MqttPublish { t: typeof MQTT_PUBLISH; id: number; q: number; d: boolean; r: boolean; topic: string; payload: Uint8Array }
/** PUBACK [3.4]. */
export interface MqttPuback { t: typeof MQTT_PUBACK; id: number }
/** SUBACK [3.9]: one return code per topic filter, the granted QoS or 0x80 for a failure; may share memory with the chunk given to push(). */
export interface MqttSuback { t: typeof MQTT_SUBACK; id: number; granted: Uint8Array }
/** PINGRESP [3.13]. */
export interface MqttPingresp { t: typeof MQTT_PINGRESP }
export type MqttPacket = MqttConnack | MqttPublish | MqttPuback | MqttSuback | MqttPingresp;

/**
 * The length of s when the codec can put it on the wire as an MQTT string:
 * ASCII without NUL [MQTT-1.5.3-2], at most 65535 bytes [1.5.3]; else -1.
 * kind 0: any such string; 1: a topic name, non-empty [MQTT-4.7.3-1] without
 * wildcards [MQTT-3.3.2-2]; 2: a topic filter, non-empty, '+' a whole level,
 * '#' a whole last level [4.7.1].
 */
function strLen(s: string, kind: number): number {
  const n = s.length;
  if (n > 65535 || (kind && !n)) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 1 || c > 127) return -1;
    if (kind && (c === 43 || c === 35)) {
      if (kind < 2 || (i && s.charCodeAt(i - 1) !== 47) || (i < n - 1 && (c === 35 || s.charCodeAt(i + 1) !== 47))) return -1;
    }
  }
  return n;
}

/** An empty frame: what an encoder returns for input it cannot encode exactly. */
function none(): Uint8Array {
  return new Uint8Array(0);
}

/** Whether v is not an integer whose bits are all in mask: 65535 for a Two Byte Integer, 1 for a QoS this client uses (0 or 1). */
function outside(v: number, mask: number): boolean {
  return (v & mask) !== v;
}

/** Whether id is not a packet identifier: an integer 1..65535 [2.3.1]. */
function badId(id: number): boolean {
  return !id || outside(id, 65535);
}

/** A Two Byte Integer, most significant byte first [1.5.2], as a byte string. */
function u16(n: number): string {
  return String.fromCharCode(n >> 8, n & 255);
}

/** A length-prefixed string [1.5.3] whose char codes are bytes (checked by the caller). */
function lstr(s: string): string {
  return u16(s.length) + s;
}

/**
 * A frame: its first byte, the Remaining Length in 7-bit groups, least
 * significant first, the top bit set on all but the last [2.2.3], then the
 * body: head's char codes and then the bytes of tail, if any. Empty when
 * the body is longer than MQTT_MAX_REMAINING.
 */
function frame(first: number, head: string, tail?: Uint8Array): Uint8Array {
  const t = tail || none();
  let v = head.length + t.length, s = String.fromCharCode(first);
  if (v > MQTT_MAX_REMAINING) return none();
  do s += String.fromCharCode(v > 127 ? (v & 127) | 128 : v);
  while ((v >>>= 7));
  s += head;
  const b = new Uint8Array(s.length + t.length);
  for (let k = 0; k < s.length; k++) b[k] = s.charCodeAt(k);
  b.set(t, s.length);
  return b;
}

/**
 * CONNECT [3.1] as the router sends it: protocol name "MQTT" [3.1.2.1],
 * level 4 [3.1.2.2], flags [3.1.2.3]: a will, QoS 1, retained; clean
 * session 0 (a persistent session [3.1.2.4], so a client id is needed
 * [MQTT-3.1.3-7]); a user name and a password when given (the broker user
 * and password the flasher stores, tools/flash), ASCII here, a password
 * only with a user name [MQTT-3.1.2-22]. Then keep-alive (0..65535 s, 0:
 * off [3.1.2.10]), client id (ASCII), will topic, will message (at most
 * 65535 bytes), user name and password in that order [MQTT-3.1.3-1].
 * Empty on bad input.
 */
export function encodeConnect(clientId: string, keepAliveS: number, willTopic: string, willPayload: Uint8Array, user?: string, password?: string): Uint8Array {
  const u = user !== undefined;
  const w = password !== undefined;
  // The will message as a byte string (char codes 0..255), like the password.
  let will = "";
  for (let k = 0; k < willPayload.length; k++) will += String.fromCharCode(willPayload[k]);
  // Absent credentials are checked as empty strings; a password needs a user name.
  return strLen(clientId, 0) < 1 || outside(keepAliveS, 65535) || strLen(willTopic, 1) < 0 || will.length > 65535 || strLen(user || "", 0) < 0 || strLen(password || "", 0) < 0 || (w && !u)
    ? none()
    : // Flags: user name 0x80, password 0x40, will retain 0x20, will QoS 1 0x08, will 0x04.
      frame(0x10, "\0\x04MQTT\x04" + String.fromCharCode(u ? (w ? 0xec : 0xac) : 0x2c) + u16(keepAliveS) + lstr(clientId) + lstr(willTopic) + lstr(will) + (u ? lstr(user) : "") + (w ? lstr(password) : ""));
}

/**
 * PUBLISH [3.3]: DUP, QoS, RETAIN in the fixed header [3.3.1]; topic name,
 * packet id when QoS 1, payload. packetId is ignored with QoS 0; DUP must be
 * clear with QoS 0 [MQTT-3.3.1-2]. Empty on bad input.
 */
export function encodePublish(topic: string, payload: Uint8Array, qos: number, packetId: number, dup: boolean, retain: boolean): Uint8Array {
  if (strLen(topic, 1) < 0 || outside(qos, 1) || (qos ? badId(packetId) : dup)) return none();
  return frame(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0), lstr(topic) + (qos ? u16(packetId) : ""), payload);
}

/** PUBACK [3.4], the answer to a QoS 1 PUBLISH [MQTT-4.3.2-2]. Empty on a bad packet id. */
export function encodePuback(packetId: number): Uint8Array {
  return badId(packetId) ? none() : frame(0x40, u16(packetId));
}

/**
 * SUBSCRIBE [3.8]: fixed header flags 0010 [MQTT-3.8.1-1], packet id, then at
 * least one topic filter [MQTT-3.8.3-3] each with the requested QoS (0 or 1
 * here, the same for all). Empty on bad input.
 */
export function encodeSubscribe(packetId: number, topics: string[], qos: number): Uint8Array {
  let s = u16(packetId), bad = badId(packetId) || !topics.length || outside(qos, 1);
  for (let k = 0; k < topics.length; k++) {
    bad = bad || strLen(topics[k], 2) < 0;
    s += lstr(topics[k]) + String.fromCharCode(qos);
  }
  return bad ? none() : frame(0x82, s);
}

/** PINGREQ [3.12]. */
export function encodePingreq(): Uint8Array {
  return new Uint8Array([0xc0, 0]);
}

/** DISCONNECT [3.14]. */
export function encodeDisconnect(): Uint8Array {
  return new Uint8Array([0xe0, 0]);
}

/**
 * The whole size of the frame at b[s] (fixed header included), 0 while its
 * header is incomplete, or -reason. Refuses as early as it can: the first
 * byte alone, and a length that can only end above max. The first byte
 * [2.2.1, 2.2.2, 3.3.1]: by type, the reason a broker may not send it to
 * this client (digit 0: it may), PUBLISH by its QoS; DUP with QoS 0 is let
 * through (a sender's fault without meaning [MQTT-3.3.1-2]). Then the
 * lengths that CONNACK (2), PUBACK (2), PINGRESP (0) and SUBACK (3 or more)
 * must have.
 */
function frameLen(b: Uint8Array, s: number, e: number, max: number): number {
  const x = b[s], t = x >> 4, q = (x >> 1) & 3;
  // PUBREC, PUBREL, PUBCOMP, UNSUBACK: unsupported; CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT, 0 and 15: bad types.
  // PUBLISH by its QoS: 2 unsupported, 3 bad flags.
  const bad = +"3300066630363033"[t] || (t === MQTT_PUBLISH ? +"0064"[q] : x & 15 ? MQTT_E_BAD_FLAGS : 0);
  let v = 0, m = 1;
  if (bad) return -bad;
  for (let i = s + 1; i < s + 5; i++) {
    if (i >= e) return 0;
    v += (b[i] & 127) * m;
    if (b[i] < 128) {
      // A last byte 0 after a continuation is not the fewest bytes.
      if (i > s + 1 && !b[i]) return -MQTT_E_BAD_LENGTH;
      if (v > max) return -MQTT_E_TOO_BIG;
      return (t === MQTT_SUBACK ? v < 3 : t !== MQTT_PUBLISH && v !== (t === MQTT_PINGRESP ? 0 : 2)) ? -MQTT_E_BAD_LENGTH : v + i + 1 - s;
    }
    m *= 128;
    // The smallest length still possible (the last byte is at least 1).
    if (i < s + 4 && v + m > max) return -MQTT_E_TOO_BIG;
  }
  return -MQTT_E_BAD_LENGTH;
}

/** The packet in b[s..e), a whole frame whose first byte and length frameLen accepted; or a reason. */
function decode(b: Uint8Array, s: number, e: number): MqttPacket | number {
  const x = b[s], t = x >> 4, q = (x >> 1) & 3;
  let i = s + 1;
  while (b[i++] & 128);
  // Used only where frameLen has vouched for the bytes (PUBLISH: just below).
  // id: a Two Byte Integer [1.5.2].
  const a = b[i], c = b[i + 1], id = (a << 8) | c;
  if (t === MQTT_PUBLISH) {
    // id: the topic's length here.
    const p = i + 2 + id + (q ? 2 : 0);
    let topic = "";
    if (e - i < 2 || p > e) return MQTT_E_BAD_LENGTH;
    for (let k = i + 2; k < i + 2 + id; k++) topic += String.fromCharCode(b[k]);
    const pid = q ? (b[p - 2] << 8) | b[p - 1] : 0;
    if (strLen(topic, 1) < 0 || (q && !pid)) return MQTT_E_MALFORMED;
    return { t: MQTT_PUBLISH, id: pid, q: q, d: !!(x & 8), r: !!(x & 1), topic: topic, payload: b.subarray(p, e) };
  }
  if (t === MQTT_PINGRESP) return { t: MQTT_PINGRESP };
  if (t === MQTT_CONNACK) return a > 1 ? MQTT_E_BAD_FLAGS : c > 5 || (a && c) ? MQTT_E_MALFORMED : { t: MQTT_CONNACK, sp: a === 1, rc: c };
  // PUBACK: a packet id; SUBACK: a packet id and at least one return code.
  if (!id) return MQTT_E_MALFORMED;
  if (t === MQTT_PUBACK) return { t: MQTT_PUBACK, id: id };
  for (let k = i + 2; k < e; k++) if (b[k] > 2 && b[k] !== 0x80) return MQTT_E_MALFORMED;
  return { t: MQTT_SUBACK, id: id, granted: b.subarray(i + 2, e) };
}

/**
 * The streaming parser for what the broker sends. push() the bytes of each
 * TCP read, then call next() until it returns null: it returns one whole
 * packet at a time, whatever the reads' boundaries. null with error 0 means
 * "incomplete": wait for more bytes. A frame that ends in the chunk is
 * decoded where it lies; only a frame split across chunks is copied, into a
 * buffer of its exact size allocated once its header shows a length within
 * the maximum (the router must afford one maximum frame anyway); the few
 * bytes of a header cut short stay unread until the next push(). So, drained
 * before each push, the parser holds at most maxFrameBytes + 5 bytes. Bad
 * input sets error (an MQTT_E_ code) as soon as the bytes that prove it
 * arrive; the parser then ignores everything until reset(). Never throws.
 */
export class MqttParser {
  // Declared only (the constructor and reset() set them), so that no build
  // turns them into property definitions.
  /** 0 while the input is fine, else the MQTT_E_ reason of the frame that was refused. */
  declare error: number;
  /** The largest Remaining Length accepted. */
  declare private mx: number;
  /** The chunk being read (the caller's bytes, not copied) and the read position in it. */
  declare private c: Uint8Array;
  declare private o: number;
  /** A frame split across chunks, copied (null when none), and how many of its bytes are in. */
  declare private p: Uint8Array | null;
  declare private n: number;

  /** maxFrameBytes: the largest Remaining Length (the frame after its fixed header) to accept. */
  constructor(maxFrameBytes: number) {
    // Above MQTT_MAX_REMAINING it acts as that: four length bytes end there.
    this.mx = maxFrameBytes > 0 ? maxFrameBytes : 0;
    this.reset();
  }

  /** Forgets all input and any error: for a new connection. */
  reset(): void {
    this.error = this.o = 0;
    this.c = none();
    this.p = null;
  }

  /** Bytes the parser holds: the copied split frame, plus any unread part of the last chunk. */
  heldBytes(): number {
    return (this.p ? this.p.length : 0) + this.c.length - this.o;
  }

  /**
   * Takes the bytes of one read. Bytes of an earlier chunk that next() has
   * not read yet are kept (copied in front of these), so call next() until
   * null first.
   */
  push(chunk: Uint8Array): void {
    const left = this.c.length - this.o;
    if (this.error || !chunk.length) return;
    if (left > 0) {
      const j = new Uint8Array(left + chunk.length);
      j.set(this.c.subarray(this.o));
      j.set(chunk, left);
      chunk = j;
    }
    this.c = chunk;
    this.o = 0;
  }

  /** The next whole packet, or null: incomplete (error 0) or refused (error set). */
  next(): MqttPacket | null {
    const c = this.c, o = this.o;
    let p = this.p, b = c, s = o, len = 0;
    if (this.error || o >= c.length) return null;
    if (!p) {
      len = frameLen(c, o, c.length, this.mx);
      if (len < 0) return this.fail(-len);
      if (!len) return null;
      // A frame that goes on in a later chunk: copied, from here on, into a buffer of its size.
      if (o + len > c.length) {
        p = this.p = new Uint8Array(len);
        this.n = 0;
      }
    }
    if (p) {
      len = Math.min(p.length - this.n, c.length - o);
      p.set(c.subarray(o, o + len), this.n);
      this.n += len;
      this.o = o + len;
      if (this.n < p.length) return null;
      this.p = null;
      b = p;
      s = 0;
      len = p.length;
    } else this.o = o + len;
    const r = decode(b, s, s + len);
    return typeof r === "number" ? this.fail(r) : r;
  }

  private fail(reason: number): null {
    this.reset();
    this.error = reason;
    return null;
  }
}

