// The event bus behind GET /events: every object change is published here, kept in a short ring for
// `since`, and streamed to subscribers. Shapes are Docker's (Type, Action, Actor, time, timeNano).
import { EventEmitter } from 'node:events';

export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon';

export interface BerthEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // Deprecated fields docker still fills for containers and images.
  status?: string;
  id?: string;
  from?: string;
}

const KEEP = 1000;

export class EventBus {
  readonly #ring: BerthEvent[] = [];
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): BerthEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const ev: BerthEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.#ring.push(ev);
    if (this.#ring.length > KEEP) this.#ring.splice(0, this.#ring.length - KEEP);
    this.#emitter.emit('event', ev);
    return ev;
  }

  /** Events kept since `sinceNs` (nanoseconds since the epoch). */
  since(sinceNs: number): BerthEvent[] {
    return this.#ring.filter((e) => e.timeNano >= sinceNs);
  }

  subscribe(fn: (e: BerthEvent) => void): () => void {
    this.#emitter.on('event', fn);
    return () => this.#emitter.off('event', fn);
  }
}

/** Docker's event filters: type, event (action), container, image, network, label, … (OR within a key, AND across keys). */
export function matchEvent(e: BerthEvent, filters: Record<string, string[]>): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (values.length === 0) continue;
    const ok = values.some((v) => {
      switch (key) {
        case 'type':
          return e.Type === v;
        case 'event':
          return e.Action === v || e.Action.split(':')[0] === v;
        case 'container':
        case 'network':
        case 'volume':
          return e.Type === key && (e.Actor.ID === v || e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v);
        case 'image':
          return (
            (e.Type === 'image' && (e.Actor.ID === v || e.Actor.Attributes.name === v)) ||
            (e.Type === 'container' && e.Actor.Attributes.image === v)
          );
        case 'label': {
          const [lk, lv] = v.split('=', 2) as [string, string | undefined];
          const have = e.Actor.Attributes[lk];
          return have !== undefined && (lv === undefined || have === lv);
        }
        case 'scope':
          return e.scope === v;
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

/** Parse Docker's `filters` query parameter: {"key":["v"]} or the old {"key":{"v":true}}. */
export function parseFilters(raw: string | undefined): Record<string, string[]> {
  if (!raw) return {};
  const obj = JSON.parse(raw) as Record<string, string[] | Record<string, boolean>>;
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = Array.isArray(v) ? v.map(String) : Object.keys(v).filter((x) => (v as Record<string, boolean>)[x]);
  }
  return out;
}

/** Docker timestamps in query strings: unix seconds with optional fraction, or RFC 3339. → ns. */
export function parseTimestamp(s: string, nowMs = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(s)) {
    const [sec, frac = ''] = s.split('.');
    return Number(sec) * 1e9 + Number((frac + '000000000').slice(0, 9));
  }
  const rel = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(s); // a duration: that long ago
  if (rel) {
    const mult = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[rel[2] as 'ns'];
    return (nowMs - Number(rel[1]) * mult) * 1e6;
  }
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`invalid timestamp "${s}"`);
  return t * 1e6;
}
