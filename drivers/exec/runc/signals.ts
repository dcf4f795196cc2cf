// Signal names as Docker accepts them ("TERM", "SIGTERM", "15", "SIGRTMIN+3") → Linux numbers. PURE.
import { constants } from 'node:os';
import { invalidParameter } from '../../errors.js';

const SIGRTMIN = 34; // glibc keeps 32 and 33 for itself, as Docker's signal table does
const SIGRTMAX = 64;

/** The signal number, or invalid_parameter with Docker's wording. */
export function signalNumber(signal: string): number {
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw invalidParameter(`Invalid signal: ${signal}`);
  }
  const name = s.startsWith('SIG') ? s : `SIG${s}`;
  const rt = /^SIGRTM(IN|AX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const off = rt[2] ? Number(rt[2]) : 0;
    const n = (rt[1] === 'IN' ? SIGRTMIN : SIGRTMAX) + off;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    throw invalidParameter(`Invalid signal: ${signal}`);
  }
  const n = (constants.signals as Record<string, number | undefined>)[name];
  if (n === undefined) throw invalidParameter(`Invalid signal: ${signal}`);
  return n;
}

/** The exit code Docker reports for a process killed by signal `n`. */
export function signalExitCode(n: number): number {
  return 128 + n;
}
