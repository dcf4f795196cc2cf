import { describe, expect, it } from 'vitest';
import { signalNumber } from '../../../drivers/exec/runc/signals.js';

describe('signalNumber', () => {
  it('takes Docker’s forms', () => {
    expect(signalNumber('SIGTERM')).toBe(15);
    expect(signalNumber('TERM')).toBe(15);
    expect(signalNumber('term')).toBe(15);
    expect(signalNumber('9')).toBe(9);
    expect(signalNumber('SIGKILL')).toBe(9);
    expect(signalNumber('SIGRTMIN')).toBe(34);
    expect(signalNumber('RTMIN+3')).toBe(37);
    expect(signalNumber('SIGRTMAX-1')).toBe(63);
  });
  it('refuses the rest', () => {
    for (const s of ['SIGNOPE', '0', '65', '', 'RTMIN+40', '-1', 'SIGTERM; rm']) expect(() => signalNumber(s)).toThrow(/Invalid signal/);
  });
});
