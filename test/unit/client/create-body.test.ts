// run/create flags → the POST /containers/create body. The expected bodies were recorded from the
// real docker CLI 28.2.2 against a recording fake daemon (fixtures/docker-28.2.2-create-bodies.jsonl,
// env CAPTURED=fromenv, label/env files as in fixtures/), so "the body docker sends" is docker's.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseContainerArgs, buildCreateBody, parseRestartPolicy, isMac } from '../../../client/opts/container.js';
import { createRequest } from '../../../client/commands/container/create.js';
import { recIo } from './fake.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

interface Fixture {
  line: string;
  url: string;
  body: Record<string, unknown>;
}

const fixtures: Fixture[] = readFileSync(join(FIX, 'docker-28.2.2-create-bodies.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Fixture);

function request(line: string, io = recIo({ env: { CAPTURED: 'fromenv' } })) {
  const argv = line.replaceAll('/tmp/cap/', `${FIX}/`).split(' ');
  const mode = argv[0] as 'run' | 'create';
  return createRequest(parseContainerArgs(argv.slice(1), mode), io);
}

describe('run/create body = what docker 28.2.2 sends', () => {
  it('has fixtures for every flag berth takes', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  for (const f of fixtures) {
    it(f.line, () => {
      const r = request(f.line);
      expect(r.body).toEqual(f.body);
      const name = new URL(f.url, 'http://x').searchParams.get('name');
      expect(r.name).toBe(name ?? undefined);
    });
  }

  it('sets ConsoleSize from the terminal, as docker does when stdout is one', () => {
    const io = recIo({ tty: true, size: { rows: 33, cols: 101 } });
    const r = request('run -it busybox sh', io);
    expect(r.body.HostConfig.ConsoleSize).toEqual([33, 101]);
  });
});

// Recorded the same way (docker 28.2.2 CLI → a recording fake daemon): fixtures/docker-28-resource-bodies.jsonl.
const resourceFixtures = readFileSync(join(FIX, 'docker-28-resource-bodies.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { line: string; body: Record<string, unknown> });

describe('resource flags (-m, --memory-swap, --cpus, -c, --cpuset-*, --pids-limit, --oom-kill-disable): the body docker 28 sends', () => {
  for (const f of resourceFixtures) {
    it(f.line, () => {
      // byte for byte, key order included
      expect(JSON.stringify(request(f.line).body)).toBe(JSON.stringify(f.body));
    });
  }
});

describe('run/create flags refused before any request', () => {
  const bad: [string, string][] = [
    ['-p 70000:80', 'invalid hostPort: 70000'],
    ['-p 80:80/foo', 'invalid proto: foo'],
    ['-p 1.2.3:80:80', 'invalid IP address: 1.2.3'],
    ['-p 8000-8002:80-81', 'invalid ranges specified for container and host Ports: 80-81 and 8000-8002'],
    ['--expose 1:2', 'invalid port format for --expose: 1:2'],
    ['--restart foo', "invalid restart policy: unknown policy 'foo'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"],
    ['--restart always:3', "invalid restart policy: maximum retry count can only be used with 'on-failure'"],
    ['--restart on-failure:-1', 'invalid restart policy: maximum retry count cannot be negative'],
    ['--restart on-failure:x', 'invalid restart policy format: maximum retry count must be an integer'],
    ['--restart :3', 'invalid restart policy format: no policy provided before colon'],
    ['--rm --restart always', 'conflicting options: cannot specify both --restart and --rm'],
    ['--mac-address zz', 'zz is not a valid mac address'],
    ['--ip foo', 'invalid argument "foo" for "--ip" flag: invalid string being converted to IPv4 address: foo'],
    ['--ip 2001:db8::1', 'invalid string being converted to IPv4 address'],
    ['--dns foo', 'invalid argument "foo" for "--dns" flag: IP address is not correctly formatted: foo'],
    ['--network-alias x', 'network-scoped aliases are only supported for user-defined networks'],
    ['--net host --net mynet', 'conflicting options: cannot attach both user-defined and non-user-defined network-modes'],
    ['--net a --net a', 'network "a" is specified multiple times'],
    ['--stop-timeout soon', 'invalid argument "soon" for "--stop-timeout" flag'],
    ['-l =x', "invalid label '=x': empty name"],
    ['-a stdio', 'valid streams are STDIN, STDOUT and STDERR'],
    ['--link a:b:c', 'bad format for links: a:b:c'],
    ['--pull sometimes', "invalid pull option: 'sometimes'"],
    ['--privileged', '--privileged is not supported'],
    ['-v /a::/b', 'invalid spec: /a::/b: empty section between colons'],
    ['--mount type=bind,src=/a', 'invalid argument "type=bind,src=/a" for "--mount" flag: target is required'],
    ['--volumes-from other', '--volumes-from is not supported'],
    ['--device /dev/fuse', '--device is not supported'],
    ['-m 64q', `invalid argument "64q" for "-m, --memory" flag: invalid suffix: 'q'`],
    ['-m x', `invalid argument "x" for "-m, --memory" flag: invalid size: 'x'`],
    ['-m -5', `invalid argument "-5" for "-m, --memory" flag: invalid size: '-5'`],
    ['--memory-swap x', `invalid argument "x" for "--memory-swap" flag: invalid size: 'x'`],
    ['--cpus x', 'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number'],
    ['--cpus 0.0000000001', 'invalid argument "0.0000000001" for "--cpus" flag: value is too precise'],
    ['-c x', 'invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": invalid syntax'],
    ['--pids-limit x', 'invalid argument "x" for "--pids-limit" flag: strconv.ParseInt: parsing "x": invalid syntax'],
    ['--cpu-period x', 'invalid argument "x" for "--cpu-period" flag: strconv.ParseInt: parsing "x": invalid syntax'],
    ['--memory-swappiness 10', '--memory-swappiness is not supported'],
    ['--cap-add NET_ADMIN', '--cap-add is not supported'],
  ];
  for (const [flags, msg] of bad) {
    it(`${flags} → ${msg}`, () => {
      expect(() => parseContainerArgs([...flags.split(' '), 'busybox'], 'create')).toThrow(msg);
    });
  }

  it('-d is a run flag, not a create flag', () => {
    expect(() => parseContainerArgs(['-d', 'busybox'], 'create')).toThrow("unknown shorthand flag: 'd' in -d");
    expect(parseContainerArgs(['-d', 'busybox'], 'run').detach).toBe(true);
  });

  it('stops at the image: later words are the command, flags included', () => {
    const a = parseContainerArgs(['-e', 'A=1', 'busybox', 'httpd', '-f', '-p', '80', '--privileged'], 'run');
    expect(a.image).toBe('busybox');
    expect(a.cmd).toEqual(['httpd', '-f', '-p', '80', '--privileged']);
  });

  it('refuses --attach with --detach', () => {
    expect(() => parseContainerArgs(['-d', '-a', 'stdout', 'busybox'], 'run')).toThrow(
      'conflicting options: cannot specify both --attach and --detach',
    );
  });

  it('reports an env file that cannot be read, and a bad line in one', () => {
    const a = parseContainerArgs(['--env-file', '/nonexistent/x.env', 'busybox'], 'run');
    expect(() => buildCreateBody(a, { env: () => undefined, readFile: (p) => readFileSync(p, 'utf8'), consoleSize: [0, 0] })).toThrow(
      '--env-file: open /nonexistent/x.env: no such file or directory',
    );
    const b = parseContainerArgs(['--env-file', 'f', 'busybox'], 'run');
    expect(() => buildCreateBody(b, { env: () => undefined, readFile: () => 'A B=1\n', consoleSize: [0, 0] })).toThrow(
      "variable 'A B' contains whitespaces",
    );
  });
});

describe('restart policies and MAC addresses', () => {
  it('reads every policy docker has', () => {
    expect(parseRestartPolicy('no')).toEqual({ Name: 'no', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('always')).toEqual({ Name: 'always', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('unless-stopped')).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure')).toEqual({ Name: 'on-failure', MaximumRetryCount: 0 });
    expect(parseRestartPolicy('on-failure:5')).toEqual({ Name: 'on-failure', MaximumRetryCount: 5 });
  });

  it('knows the MAC shapes Go accepts', () => {
    expect(isMac('02:42:ac:11:00:02')).toBe(true);
    expect(isMac('02-42-AC-11-00-02')).toBe(true);
    expect(isMac('0242.ac11.0002')).toBe(true);
    expect(isMac('02:42:ac:11:00')).toBe(false);
    expect(isMac('02:42-ac:11:00:02')).toBe(false);
    expect(isMac('zz:42:ac:11:00:02')).toBe(false);
  });
});
