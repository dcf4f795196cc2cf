// A Daemon for API unit tests: real engine, store (temp dir), events and config; no drivers unless
// a test installs some. Use with buildApp(d) and app.inject().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../daemon/config.js';
import { Daemon } from '../../daemon/daemon.js';
import { Engine } from '../../daemon/engine/engine.js';
import { EventBus } from '../../daemon/events.js';
import { FileStore } from '../../daemon/state/store.js';
import { RECORD_KINDS, type DaemonRecords } from '../../daemon/state/records.js';
import { silentLog } from '../../drivers/log.js';

export async function unitDaemon(args: string[] = [], o: { layerWorker?: string } = {}): Promise<{ d: Daemon; dir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unit-'));
  const config = loadConfig(['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), ...args]) as Config;
  const store = await FileStore.open<DaemonRecords>(join(dir, 'data', 'state'), RECORD_KINDS);
  const d = new Daemon({ config, log: silentLog, store, engine: new Engine(silentLog), events: new EventBus(), id: 'unit-test', layerWorker: o.layerWorker });
  // The image store is made in the background: let it be, so that cleanup() removes it for good.
  await d.images.ready().catch(() => {});
  return { d, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
