// docker diff's walks (drivers/image/layer/changes.ts) on fake trees (no root: overlay whiteouts
// are 0/0 char devices, which only root can make, so the trees are an FsView of plain objects),
// the layer tar they make, and docker commit's config merge and --change handling.
import { describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  changesTar,
  finishChanges,
  layeredIndex,
  lowerInfo,
  overlayChanges,
  upperDirsBelow,
  vfsChanges,
  type FileType,
  type FsView,
  type Info,
} from '../../../drivers/image/layer/changes.js';
import { commitConfig, commitTag, imageConfigOf } from '../../../daemon/images/commit.js';

type Spec = Record<string, FileType | Partial<Info>>;

/** A fake filesystem: absolute path → info; parents are implied dirs (mode 0755). */
function fakeFs(trees: Record<string, Spec>): FsView {
  const all = new Map<string, Info>();
  const base = (type: FileType): Info => ({ type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 1, mtimeNs: 1000n, rdev: 0 });
  for (const [root, spec] of Object.entries(trees)) {
    all.set(root, base('dir'));
    for (const [p, v] of Object.entries(spec)) {
      const info = typeof v === 'string' ? base(v) : { ...base(v.type ?? 'file'), ...v };
      const parts = p.split('/').filter(Boolean);
      for (let i = 1; i < parts.length; i++) {
        const q = `${root}/${parts.slice(0, i).join('/')}`;
        if (!all.has(q)) all.set(q, base('dir'));
      }
      all.set(root + p, info);
    }
  }
  return {
    lstat: (p) => all.get(p),
    readdir: (p) => {
      if (all.get(p)?.type !== 'dir') return [];
      return [...all.keys()].filter((k) => k.startsWith(`${p}/`) && !k.slice(p.length + 1).includes('/')).map((k) => k.slice(p.length + 1));
    },
  };
}

const WH: Partial<Info> = { type: 'char', rdev: 0 };
const show = (cs: { path: string; kind: number }[]) => cs.map((c) => `${'CAD'[c.kind]} ${c.path}`);

describe('overlay changes (upper dir against the layers)', () => {
  const lowers = ['/l2', '/l1']; // top first
  const tree = {
    '/l1': { '/etc/passwd': 'file', '/etc/group': 'file', '/www/index.html': 'file', '/www/old/a': 'file', '/gone/x': 'file', '/tmp': 'dir', '/root': { type: 'dir', mode: 0o700 } },
    '/l2': { '/gone': WH, '/bin/sh': 'file' },
  } as Record<string, Spec>;

  it('lists A, C and D, parents as C, sorted; dirs copied up unchanged are not listed for themselves', () => {
    const fs = fakeFs({
      ...tree,
      '/u': {
        '/etc/passwd': { size: 9 },
        '/etc/new': 'file',
        '/www/index.html': WH,
        '/tmp/d/y': 'file',
        '/root': { type: 'dir', mode: 0o755 },
        '/x': 'file',
        '/gone/x': 'file', // /gone is whited out in l2: added, not changed
      },
    });
    expect(show(overlayChanges(fs, '/u', lowers, new Set()))).toEqual([
      'C /etc',
      'A /etc/new',
      'C /etc/passwd',
      'A /gone',
      'A /gone/x',
      'C /root',
      'C /tmp',
      'A /tmp/d',
      'A /tmp/d/y',
      'C /www',
      'D /www/index.html',
      'A /x',
    ]);
  });

  it('an opaque dir is C and what the layers had in it is D', () => {
    const fs = fakeFs({ ...tree, '/u': { '/www': 'dir', '/www/z': 'file' } });
    expect(upperDirsBelow(fs, '/u', lowers)).toEqual(['/www']);
    expect(show(overlayChanges(fs, '/u', lowers, new Set(['/www'])))).toEqual(['C /www', 'D /www/index.html', 'D /www/old', 'A /www/z']);
    // without the xattr the same upper dir only adds a file
    expect(show(overlayChanges(fs, '/u', lowers, new Set()))).toEqual(['C /www', 'A /www/z']);
  });

  it('leaves out the mountpoints berth makes (/etc/hosts & co.) and a parent listed only for them', () => {
    const fs = fakeFs({ ...tree, '/u': { '/etc/hosts': 'file', '/etc/hostname': 'file', '/etc/resolv.conf': 'file', '/proc': 'dir', '/dev': 'dir' } });
    expect(overlayChanges(fs, '/u', lowers, new Set())).toEqual([]);
  });

  it('finds a lower file through the layers, not through a whiteout or a file at a parent', () => {
    const fs = fakeFs(tree);
    expect(lowerInfo(fs, lowers, '/etc/passwd')?.type).toBe('file');
    expect(lowerInfo(fs, lowers, '/gone/x')).toBeUndefined();
    expect(lowerInfo(fs, lowers, '/etc/passwd/x')).toBeUndefined();
    expect(lowerInfo(fs, lowers, '/nope')).toBeUndefined();
  });
});

describe('vfs changes (rootfs copy against the layers applied)', () => {
  const layers = ['/l1', '/l2']; // bottom first
  const tree = {
    '/l1': { '/etc/passwd': 'file', '/www/index.html': 'file', '/www/keep': 'file', '/gone/x': 'file', '/opq/a': 'file', '/root': { type: 'dir', mode: 0o700 } },
    '/l2': { '/.wh.gone': 'file', '/opq/.wh..wh..opq': 'file', '/opq/b': 'file', '/bin/sh': 'file' },
  } as Record<string, Spec>;

  it('applies whiteouts and opaque markers in memory', () => {
    const idx = layeredIndex(fakeFs(tree), layers);
    expect([...idx.keys()].sort()).toEqual(['/bin', '/bin/sh', '/etc', '/etc/passwd', '/opq', '/opq/b', '/root', '/www', '/www/index.html', '/www/keep']);
    expect(idx.get('/bin/sh')?.host).toBe('/l2/bin/sh');
  });

  it('lists A, C (size, mtime, mode, owner), D (top-most only), parents as C; dir mtimes do not count', () => {
    const fs = fakeFs({
      ...tree,
      '/r': {
        '/bin/sh': 'file',
        '/etc/passwd': { size: 5 },
        '/www/keep': { mtimeNs: 2000n },
        '/opq/b': { uid: 1 },
        '/root': { type: 'dir', mode: 0o755 },
        '/new/deep/f': 'file',
      },
    });
    // /etc and /www have other dir mtimes in a real copy: only mode and owner count for dirs
    expect(show(vfsChanges(fs, '/r', layers))).toEqual([
      'C /etc',
      'C /etc/passwd',
      'A /new',
      'A /new/deep',
      'A /new/deep/f',
      'C /opq',
      'C /opq/b',
      'C /root',
      'C /www',
      'D /www/index.html',
      'C /www/keep',
    ]);
  });

  it('an unchanged copy, and one with only berth’s mountpoints added, have no changes', () => {
    const same = { '/bin/sh': 'file', '/etc/passwd': 'file', '/www/index.html': 'file', '/www/keep': 'file', '/opq/b': 'file', '/root': { type: 'dir', mode: 0o700 } } as Spec;
    expect(vfsChanges(fakeFs({ ...tree, '/r': same }), '/r', layers)).toEqual([]);
    expect(vfsChanges(fakeFs({ ...tree, '/r': { ...same, '/etc/hosts': 'file', '/sys': 'dir' } }), '/r', layers)).toEqual([]);
  });

  it('a deleted dir is one D, its contents are not listed', () => {
    const fs = fakeFs({ ...tree, '/r': { '/bin/sh': 'file', '/etc/passwd': 'file', '/opq/b': 'file', '/root': { type: 'dir', mode: 0o700 } } });
    expect(show(vfsChanges(fs, '/r', layers))).toEqual(['D /www']);
  });
});

describe('finishChanges', () => {
  it('adds missing parents as C and keeps explicit kinds', () => {
    expect(show(finishChanges([{ path: '/a/b/c', kind: 1 }, { path: '/a', kind: 1 }, { path: '/etc/hosts', kind: 1 }]))).toEqual(['A /a', 'C /a/b', 'A /a/b/c']);
  });
});

describe('changesTar', () => {
  it('writes A/C from the source, D as .wh. files and opaque dirs with .wh..wh..opq, parents first', async () => {
    const src = mkdtempSync(join(tmpdir(), 'berth-changes-'));
    try {
      mkdirSync(join(src, 'www'));
      writeFileSync(join(src, 'www', 'z'), 'zz');
      writeFileSync(join(src, 'x'), 'new\n');
      const changes = [
        { path: '/gone', kind: 2 as const },
        { path: '/www', kind: 0 as const },
        { path: '/www/index.html', kind: 2 as const },
        { path: '/www/z', kind: 1 as const },
        { path: '/x', kind: 1 as const },
      ];
      const ex = extract();
      const got: string[] = [];
      const reading = (async () => {
        for await (const e of ex) {
          let body = '';
          for await (const c of e) body += String(c);
          got.push(`${e.header.type} ${e.header.name} ${body}`.trim());
        }
      })();
      changesTar(changes, src, new Set(['/www'])).pipe(ex);
      await reading;
      expect(got).toEqual(['file .wh.gone', 'directory www/', 'file www/.wh..wh..opq', 'file www/.wh.index.html', 'file www/z zz', 'file x new']);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
});

describe('commit config', () => {
  const container = imageConfigOf({ Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], Entrypoint: null, WorkingDir: '/w', User: '', Labels: { l: '1' }, ExposedPorts: { '80/tcp': {} } });

  it('takes the container’s config and applies --change lines', () => {
    const c = commitConfig(container, null, ['CMD ["cat","/x"]', 'ENV A=2 B=3', 'WORKDIR sub', 'USER nobody', 'EXPOSE 53/udp', 'LABEL m=2']);
    expect(c).toEqual({
      Env: ['PATH=/bin', 'A=2', 'B=3'],
      Cmd: ['cat', '/x'],
      WorkingDir: '/w/sub',
      User: 'nobody',
      Labels: { l: '1', m: '2' },
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
    });
  });

  it('ENTRYPOINT drops the Cmd unless a CMD came first', () => {
    expect(commitConfig(container, undefined, ['ENTRYPOINT ["cat"]'])).toMatchObject({ Entrypoint: ['cat'] });
    expect(commitConfig(container, undefined, ['ENTRYPOINT ["cat"]']).Cmd).toBeUndefined();
    expect(commitConfig(container, undefined, ['CMD ["/x"]', 'ENTRYPOINT ["cat"]'])).toMatchObject({ Entrypoint: ['cat'], Cmd: ['/x'] });
  });

  it('a body Config replaces the container’s, which fills what it leaves empty', () => {
    const c = commitConfig(container, { Cmd: ['true'], Env: ['A=9'] }, []);
    expect(c).toEqual({ Cmd: ['true'], Env: ['A=9', 'PATH=/bin'], WorkingDir: '/w', Labels: { l: '1' }, ExposedPorts: { '80/tcp': {} } });
  });

  it('refuses what dockerd refuses, before anything is made', () => {
    expect(() => commitConfig(container, null, ['RUN echo'])).toThrow('RUN is not a valid change command');
    expect(() => commitConfig(container, null, ['COPY a b'])).toThrow(/not a valid change command/);
    expect(() => commitConfig(container, null, ['EXPOSE 99999'])).toThrow(/invalid containerPort/);
    expect(() => commitConfig(container, [1], [])).toThrow(/must be a JSON object/);
    expect(() => commitConfig(container, { Cmd: 'x' }, [])).toThrow(/Cmd has the wrong type/);
  });

  it('tags: repo with or without a tag; none without a repo; no digests', () => {
    expect(commitTag('snap', undefined)).toBe('snap:latest');
    expect(commitTag('snap:1', undefined)).toBe('snap:1');
    expect(commitTag('snap', '2')).toBe('snap:2');
    expect(commitTag(undefined, '2')).toBeUndefined();
    expect(() => commitTag(`snap@sha256:${'a'.repeat(64)}`, undefined)).toThrow(/digest/);
    expect(() => commitTag('Bad Name', undefined)).toThrow(/invalid reference format/);
  });
});
