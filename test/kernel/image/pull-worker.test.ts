// A pulled layer unpacked by the layer worker into the overlay driver (as root): owners, modes,
// a device node and a whiteout (made by the worker's one `tar -x`, reported back to be counted),
// the driver's tar-split record, and the exact tar rebuilt from the layer dir. The registry is the
// in-process fake on 127.0.0.1; the driver's data root is a per-run temp dir, removed at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isRoot, skipReason } from '../../helpers/prefix.js';
import { testDir } from '../../helpers/daemon.js';
import { makeTar } from '../../helpers/images.js';
import overlay from '../../../drivers/image/overlay/index.js';
import type { ImageDriver } from '../../../drivers/driver.js';
import { realSys } from '../../../drivers/sys/index.js';
import { makeNames } from '../../../drivers/names.js';
import { silentLog } from '../../../drivers/log.js';
import { UndoStack } from '../../../drivers/undo.js';
import type { Job } from '../../../drivers/handlers.js';
import { RegistryClient } from '../../../daemon/images/registry/client.js';
import { LayerWorkers } from '../../../daemon/images/registry/offload.js';
import { fetchLayer } from '../../../daemon/images/registry/pull.js';
import { BlobStore } from '../../../daemon/images/blobs.js';
import { MEDIA } from '../../../daemon/images/registry/manifest.js';
import { FakeRegistry } from '../../unit/registry/fake-registry.js';

const WORKER = resolve(import.meta.dirname, '../../../dist/bin/layer-worker.mjs');
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const job = (): Job => ({ id: 'k', name: 'test', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() });

if (!isRoot) console.log(`skipping the layer worker unpack test: ${skipReason}`);

describe.skipIf(!isRoot || !existsSync(WORKER))('a pulled layer unpacked by the layer worker into overlay', () => {
  let dir: string;
  let reg: FakeRegistry;
  let client: RegistryClient;
  let drv: ImageDriver;
  /** Programs the worker reported running (for the engine's exec counts). */
  const ran: string[][] = [];

  beforeAll(async () => {
    dir = testDir('pullworker');
    reg = await new FakeRegistry().start();
    client = new RegistryClient({ insecure: [], mirrors: [], userAgent: 'test', layerWorker: new LayerWorkers(WORKER, 1), onExec: (argv) => ran.push(argv) });
    drv = (await overlay({
      sys: realSys(),
      records: undefined as never,
      names: makeNames('bw'),
      log: silentLog,
      config: { dataRoot: join(dir, 'data'), execRoot: join(dir, 'run'), bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: 'overlay' },
    })) as ImageDriver;
  });
  afterAll(async () => {
    client?.close();
    await reg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('owners, modes, a device node and a whiteout as overlay wants them; the exact tar comes back', async () => {
    const tar = await makeTar([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/secret', content: 'mine', uid: 1000, gid: 1001, mode: 0o640 },
      { name: 'dev/', type: 'directory' },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'old/.wh.gone', content: '' },
      { name: 'big.bin', content: Buffer.alloc(3_000_000, 7) },
    ]);
    const blob = gzipSync(tar);
    reg.addBlob('w', blob);
    const desc = { mediaType: MEDIA.dockerLayerGzip, digest: sha(blob), size: blob.length };
    const repo = client.repository({ domain: reg.host, path: 'w' }, { actions: ['pull'] });
    await repo.blobSize(desc.digest);
    const blobs = new BlobStore(join(dir, 'data', 'image'));
    await blobs.init();
    let viaWorker = false;
    const got = await fetchLayer(repo, blobs, desc, sha(tar), undefined, (source, verified, unpackInto) => {
      viaWorker = unpackInto !== undefined;
      return drv.handlers.image_unpack({ layer: { diffId: sha(tar), source, verified, unpackInto } }, job());
    });
    expect(got).toEqual({ exact: true });
    expect(viaWorker).toBe(true);
    expect(ran.map((a) => a[0])).toEqual(['tar']); // one tar -x for the device node and the whiteout
    const diff = join(dir, 'data', 'image', 'overlay', 'layers', sha(tar).slice(7), 'diff');
    const secret = lstatSync(join(diff, 'etc/secret'));
    expect([secret.uid, secret.gid, secret.mode & 0o7777]).toEqual([1000, 1001, 0o640]);
    expect(readFileSync(join(diff, 'etc/secret'), 'utf8')).toBe('mine');
    const devnull = lstatSync(join(diff, 'dev/null'));
    expect(devnull.isCharacterDevice() && devnull.rdev).toBe(0x103);
    const wh = lstatSync(join(diff, 'old/gone'));
    expect(wh.isCharacterDevice() && wh.rdev).toBe(0);
    expect(lstatSync(join(diff, 'big.bin')).size).toBe(3_000_000);
    const t = await drv.handlers.image_layer_tar({ diffId: sha(tar) }, job());
    const out: Buffer[] = [];
    for await (const c of t!.open()) out.push(c as Buffer);
    expect(sha(Buffer.concat(out))).toBe(sha(tar));
    expect(await blobs.has(sha(tar))).toBe(false);
  });
});
