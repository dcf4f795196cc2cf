import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ApiError } from '../../../client/api.js';
import ls, { render } from '../../../client/commands/image/ls.js';
import rm from '../../../client/commands/image/rm.js';
import tag, { splitTarget } from '../../../client/commands/image/tag.js';
import imp, { importPath } from '../../../client/commands/image/import.js';
import load from '../../../client/commands/image/load.js';
import save from '../../../client/commands/image/save.js';
import { fakeApi, recIo } from '../client/fake.js';

const NOW = Date.parse('2024-06-01T00:00:00Z');
const img = (id: string, tags: string[] | null, agoSec: number, size: number) => ({
  Id: `sha256:${id.repeat(64).slice(0, 64)}`,
  RepoTags: tags,
  RepoDigests: [],
  Created: NOW / 1000 - agoSec,
  Size: size,
  SharedSize: -1,
  Containers: -1,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-unit-imgcli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('berth images', () => {
  const list = [img('a', ['busybox:latest', 'localhost:5000/bb:1'], 3 * 86400, 1982381), img('b', [], 90, 512)];

  it('renders docker\'s table, one row per tag', () => {
    const o = ls.parse([]);
    expect(render(list, o, NOW)).toBe(
      [
        'REPOSITORY          TAG       IMAGE ID       CREATED              SIZE',
        'busybox             latest    aaaaaaaaaaaa   3 days ago           1.98MB',
        'localhost:5000/bb   1         aaaaaaaaaaaa   3 days ago           1.98MB',
        '<none>              <none>    bbbbbbbbbbbb   About a minute ago   512B',
        '',
      ].join('\n'),
    );
  });

  it('-q prints each id once; --no-trunc the full id; --format a template', () => {
    expect(render(list, ls.parse(['-q']), NOW)).toBe('aaaaaaaaaaaa\nbbbbbbbbbbbb\n');
    expect(render(list, ls.parse(['-q', '--no-trunc']), NOW)).toBe(`sha256:${'a'.repeat(64)}\nsha256:${'b'.repeat(64)}\n`);
    expect(render(list, ls.parse(['--format', '{{.Repository}}:{{.Tag}} {{.ID}}']), NOW)).toBe('busybox:latest aaaaaaaaaaaa\nlocalhost:5000/bb:1 aaaaaaaaaaaa\n<none>:<none> bbbbbbbbbbbb\n');
    expect(render(list.slice(1), ls.parse(['--format', 'table {{.ID}}\t{{.Size}}']), NOW)).toBe('IMAGE ID       SIZE\nbbbbbbbbbbbb   512B\n');
  });

  it('sends the argument and --filter as filters', async () => {
    const api = fakeApi(() => ({ body: [] }));
    const io = recIo();
    expect(await ls.run(api, ls.parse(['-f', 'dangling=false', 'busy*']), io)).toBe(0);
    expect(JSON.parse(api.requests[0]!.query.filters!)).toEqual({ dangling: ['false'], reference: ['busy*'] });
    expect(io.outText).toBe('REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
    expect(() => ls.parse(['a', 'b'])).toThrow('at most 1 argument');
  });
});

describe('berth rmi / tag', () => {
  it('prints Untagged/Deleted lines and goes on after an error with exit 1', async () => {
    const api = fakeApi((r) =>
      r.path === '/images/busybox' ? { body: [{ Untagged: 'busybox:latest' }, { Deleted: 'sha256:abc' }] } : { error: new ApiError(404, `No such image: ${decodeURIComponent(r.path.slice(8))}`) },
    );
    const io = recIo();
    expect(await rm.run(api, rm.parse(['-f', 'nope', 'busybox']), io)).toBe(1);
    expect(io.outText).toBe('Untagged: busybox:latest\nDeleted: sha256:abc\n');
    expect(io.errText).toBe('Error response from daemon: No such image: nope\n');
    expect(api.requests[0]!.query).toEqual({ force: '1' });
  });

  it('splits the target into repo and tag', async () => {
    expect(splitTarget('localhost:5000/x')).toEqual({ repo: 'localhost:5000/x', tag: 'latest' });
    expect(splitTarget('x/y:2')).toEqual({ repo: 'x/y', tag: '2' });
    expect(() => splitTarget('x@sha256:abc')).toThrow('digest');
    const api = fakeApi(() => ({ status: 201 }));
    await tag.run(api, tag.parse(['busybox', 'mine:1']), recIo());
    expect(api.lines()).toEqual(['POST /images/busybox/tag']);
    expect(api.requests[0]!.query).toEqual({ repo: 'mine', tag: '1' });
    expect(() => tag.parse(['one'])).toThrow('exactly 2 arguments');
  });
});

describe('berth import / load / save', () => {
  it('import: repeated changes, the file as body, the id printed', async () => {
    const o = imp.parse(['-c', 'CMD ["sh"]', '--change', 'ENV A=b', '-m', 'msg', join(dir, 'r.tar'), 'busybox:1']);
    expect(importPath(o)).toBe('/images/create?fromSrc=-&repo=busybox%3A1&message=msg&changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3Db');
    const api = fakeApi(() => ({ stream: ['{"status":"sha256:abc"}\n'] }));
    const io = recIo();
    await expect(imp.run(api, o, io)).rejects.toThrow('no such file');
    writeFileSync(join(dir, 'r.tar'), 'tar bytes');
    expect(await imp.run(api, o, io)).toBe(0);
    expect(io.outText).toBe('sha256:abc\n');
  });

  it('load: refuses a terminal on stdin; prints the Loaded lines', async () => {
    const api = fakeApi(() => ({ stream: ['{"stream":"Loaded image: busybox:latest\\n"}\n{"stream":"Loaded image ID: sha256:abc\\n"}\n'] }));
    await expect(load.run(api, load.parse([]), recIo({ tty: true }))).rejects.toThrow('requested load from stdin, but stdin is empty');
    const io = recIo();
    io.stdin.end('tar');
    expect(await load.run(api, load.parse(['-q']), io)).toBe(0);
    expect(io.outText).toBe('Loaded image: busybox:latest\nLoaded image ID: sha256:abc\n');
    expect(api.requests.at(-1)!.query).toEqual({ quiet: '1' });
    const failing = fakeApi(() => ({ stream: ['{"errorDetail":{"message":"bad archive"},"error":"bad archive"}\n'] }));
    await expect(load.run(failing, load.parse([]), recIo())).rejects.toThrow('bad archive');
  });

  it('save: never to a terminal; to a file atomically, or to stdout as bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10]);
    const api = fakeApi(() => ({ stream: [bytes] }));
    await expect(save.run(api, save.parse(['busybox']), recIo({ tty: true }))).rejects.toThrow('cowardly refusing to save to a terminal');
    const out = join(dir, 'out.tar');
    expect(await save.run(api, save.parse(['-o', out, 'busybox', 'x:1']), recIo())).toBe(0);
    expect(readFileSync(out).equals(bytes)).toBe(true);
    expect(readdirSync(dir)).toEqual(['out.tar']);
    expect(api.requests.at(-1)!.path).toBe('/images/get?names=busybox&names=x%3A1');
    const io = Object.assign(recIo(), { stdout: new PassThrough() });
    const got: Buffer[] = [];
    io.stdout.on('data', (c: Buffer) => got.push(c));
    expect(await save.run(api, save.parse(['busybox']), io)).toBe(0);
    expect(Buffer.concat(got).equals(bytes)).toBe(true);
    expect(existsSync(join(dir, 'out.tar.tmp'))).toBe(false);
  });
});
