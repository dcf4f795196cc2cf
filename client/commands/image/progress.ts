// Drawing a pull's or push's JSON progress stream as docker's CLI does (jsonmessage): on a
// terminal, one line per layer id, redrawn in place (cursor up, clear, rewrite) with its byte
// counts ("Downloading  1.2MB/3.4MB", a bar too when the terminal is wider than 110 columns);
// otherwise plain "id: status" lines, without the byte-count updates. A message without progress
// (a "Digest:" line) starts a new block. An error message ends the stream as an ApiError.
import { ApiError } from '../../api.js';
import { humanSize } from '../container/render.js';

export interface Message {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { message?: string };
}

export interface RenderOptions {
  write(s: string): void;
  /** Draw in place (a terminal on the output). */
  tty: boolean;
  /** Terminal columns (docker draws the bar above 110). */
  columns?: number;
}

/** docker's JSONProgress.String() for a terminal `columns` wide (the daemon draws at 200). */
export function progressText(d: { current?: number; total?: number }, columns: number): string {
  const cur = d.current ?? 0;
  const total = d.total ?? 0;
  if (cur <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(cur).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((cur / total) * 100) / 2));
  const box = columns > 110 ? `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] ` : '';
  const numbers = cur > total ? '' : `${humanSize(cur).padStart(8)}/${humanSize(total)}`;
  return box + numbers;
}

export class ProgressRenderer {
  readonly #o: RenderOptions;
  #ids = new Map<string, number>();
  readonly aux: Record<string, unknown>[] = [];

  constructor(o: RenderOptions) {
    this.#o = o;
  }

  /** Draw one message; throws the daemon's error message as an ApiError. */
  show(m: Message): void {
    const w = this.#o.write;
    if (m.aux) {
      this.aux.push(m.aux);
      return;
    }
    if (m.error || m.errorDetail?.message) throw new ApiError(500, m.errorDetail?.message ?? m.error ?? 'failed');
    const tty = this.#o.tty;
    const hasProgress = m.progressDetail !== undefined;
    let diff = 0;
    if (m.id && (hasProgress || m.progress)) {
      let line = this.#ids.get(m.id);
      if (line === undefined) {
        line = this.#ids.size;
        this.#ids.set(m.id, line);
        if (tty) w('\n');
      }
      diff = this.#ids.size - line;
      if (tty && diff > 0) w(`\x1b[${diff}A`);
    } else this.#ids = new Map();
    const bar = hasProgress ? progressText(m.progressDetail!, this.#o.columns ?? 80) : '';
    let endl = '';
    if (tty && m.stream === undefined && hasProgress) {
      w('\x1b[2K\r');
      endl = '\r';
    } else if (!tty && bar !== '') {
      return; // no byte counts without a terminal
    }
    let out = m.id ? `${m.id}: ` : '';
    if (tty && hasProgress) out += `${m.status ?? ''} ${bar}${endl}`;
    else if (m.stream !== undefined) out += `${m.stream}${endl}`;
    else out += `${m.status ?? ''}${endl}\n`;
    w(out);
    if (m.id && tty && diff > 0) w(`\x1b[${diff}B`);
  }

  /** Read a whole stream of JSON messages (one per line) and draw them. */
  async render(res: AsyncIterable<Buffer | string>): Promise<void> {
    let buf = '';
    const line = (l: string) => {
      const t = l.trim();
      if (!t) return;
      let m: Message;
      try {
        m = JSON.parse(t) as Message;
      } catch {
        this.#o.write(`${t}\n`);
        return;
      }
      this.show(m);
    };
    for await (const chunk of res) {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        line(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    line(buf);
  }
}
