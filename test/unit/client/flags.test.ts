import { describe, expect, it } from 'vitest';
import { parseFlags, FlagError } from '../../../client/flags.js';

const spec = {
  detach: { type: 'bool', short: 'd' },
  interactive: { type: 'bool', short: 'i' },
  tty: { type: 'bool', short: 't' },
  publish: { type: 'list', short: 'p' },
  name: { type: 'string' },
  network: { type: 'string', aliases: ['net'] },
} as const;

describe('parseFlags', () => {
  it('reads long, short, grouped and attached forms', () => {
    const { flags, args } = parseFlags(['-it', '-p', '80', '-p8080:80', '-p=9:9', '--publish=1:1', '--name', 'web', '--net=host', 'img'], spec);
    expect(flags).toEqual({ interactive: true, tty: true, publish: ['80', '8080:80', '9:9', '1:1'], name: 'web', network: 'host' });
    expect(args).toEqual(['img']);
  });

  it('takes a value after grouped bools: -dp 80:80', () => {
    expect(parseFlags(['-dp', '80:80'], spec).flags).toEqual({ detach: true, publish: ['80:80'] });
  });

  it('reads --bool=false', () => {
    expect(parseFlags(['--detach=false'], spec).flags.detach).toBe(false);
    expect(() => parseFlags(['--detach=maybe'], spec)).toThrow(FlagError);
  });

  it('stops at the first positional when not interspersed (run IMAGE CMD -x)', () => {
    const { flags, args } = parseFlags(['-d', 'busybox', 'httpd', '-f', '-p', '80'], spec, { interspersed: false });
    expect(flags).toEqual({ detach: true });
    expect(args).toEqual(['busybox', 'httpd', '-f', '-p', '80']);
  });

  it('treats everything after -- as positional', () => {
    expect(parseFlags(['--', '-d'], spec).args).toEqual(['-d']);
  });

  it('refuses unknown flags and missing values with pflag wording', () => {
    expect(() => parseFlags(['--nope'], spec)).toThrow('unknown flag: --nope');
    expect(() => parseFlags(['-x'], spec)).toThrow("unknown shorthand flag: 'x' in -x");
    expect(() => parseFlags(['--name'], spec)).toThrow('flag needs an argument: --name');
    expect(() => parseFlags(['-p'], spec)).toThrow("flag needs an argument: 'p' in -p");
  });
});
