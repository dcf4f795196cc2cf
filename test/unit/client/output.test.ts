// ps, network ls, port and inspect print what docker 28.2.2 prints. The expected output was
// recorded by running the real docker CLI (TZ=UTC) against a fake daemon that served
// fixtures/docker-28.2.2-canned-daemon.json; here the same canned answers go to berth.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../client/main.js';
import { ApiError } from '../../../client/api.js';
import { fakeApi, recIo } from './fake.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const canned = JSON.parse(readFileSync(join(FIX, 'docker-28.2.2-canned-daemon.json'), 'utf8')) as Record<string, unknown>;
const golden = readFileSync(join(FIX, 'docker-28.2.2-output.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { args: string[]; out: string; err: string; rc: number });
/** When docker ran (the canned Created times are relative to it). */
const CAPTURED_AT = 1795677870;

const api = () =>
  fakeApi((r) => {
    const k = `${r.method} ${r.path}`;
    if (k in canned) return { body: canned[k] };
    return { error: new ApiError(404, `No such object: ${r.path}`) };
  });

/** Seconds-ago counts drift between runs of the capture; compare them as "N". */
const norm = (s: string) => s.replace(/\b\d\d seconds ago/g, 'NN seconds ago');

describe('output as docker 28.2.2 prints it', () => {
  beforeAll(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(CAPTURED_AT * 1000);
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  for (const g of golden) {
    const name = g.args.join(' ');
    it(name, async () => {
      const io = recIo();
      const code = await runCli(g.args, io, api);
      expect(code).toBe(g.rc);
      if (name === 'inspect --type foo web') {
        // docker lists its swarm kinds too; berth has four kinds
        expect(io.errText).toBe('berth: unknown type: "foo": must be one of "container", "image", "network", "volume"\n');
        return;
      }
      // Go map order: docker printed this container's two networks in random order
      const out = g.out.replace('other,mynet', 'mynet,other');
      expect(norm(io.outText)).toBe(norm(out));
      expect(io.errText).toBe(g.err);
    });
  }

  it('CreatedAt is Go time.String() in local time', async () => {
    const io = recIo();
    await runCli(['ps', '--format', '{{.CreatedAt}}'], io, api);
    expect(io.outText.split('\n')[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+$/);
  });

  it('--format json prints one JSON object per line with docker\'s field names', async () => {
    const io = recIo();
    await runCli(['ps', '--format', 'json'], io, api);
    const first = JSON.parse(io.outText.split('\n')[0]!) as Record<string, string>;
    expect(Object.keys(first).sort()).toEqual(
      ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status'].sort(),
    );
    expect(first.Ports).toContain('0.0.0.0:8080->80/tcp');
  });

  it('an empty list still gets the header, as docker (recorded: docker ps on no containers)', async () => {
    const io = recIo();
    await runCli(['ps'], io, () => fakeApi(() => ({ body: [] })));
    expect(io.outText).toBe('CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n');
  });

  it('ps sends docker\'s query: all, limit, size, filters', async () => {
    const a = api();
    await runCli(['ps', '-a', '-n', '3', '-s', '--filter', 'status=exited', '--filter', 'name=web'], recIo(), () => a);
    expect(a.requests[0]!.query).toEqual({ all: '1', limit: '3', size: '1', filters: '{"status":["exited"],"name":["web"]}' });
    const b = api();
    await runCli(['ps', '-l'], recIo(), () => b);
    expect(b.requests[0]!.query).toEqual({ limit: '1' });
  });
});
