// The daemon's logger: pino, JSON lines on stderr.
import { pino } from 'pino';
import type { Log } from '../drivers/log.js';

export function makeLogger(level: string): Log {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true })) as unknown as Log;
}
