// Loading drivers: every registry entry of kind network and exec, and the one image driver chosen
// by --storage-driver. Each gets its own context, is installed into the engine, and restores its
// kernel state from the records before the API opens.
import type { AnyDriver, DriverContext } from '../drivers/driver.js';
import type { Names } from '../drivers/names.js';
import type { Sys } from '../drivers/sys/index.js';
import { builtinDrivers } from '../drivers/registry.js';
import { invalidParameter } from '../drivers/errors.js';
import type { Daemon } from './daemon.js';

export async function loadDrivers(d: Daemon, opts: { sys: Sys; names: Names }): Promise<AnyDriver[]> {
  const cfg = d.config;
  const wanted = Object.entries(builtinDrivers as Record<string, () => Promise<{ default: (ctx: DriverContext) => AnyDriver | Promise<AnyDriver> }>>).filter(
    ([key]) => !key.startsWith('image/') || key === `image/${cfg.storageDriver}`,
  );
  const imageDrivers = Object.keys(builtinDrivers).filter((k) => k.startsWith('image/'));
  if (imageDrivers.length > 0 && !imageDrivers.includes(`image/${cfg.storageDriver}`))
    throw invalidParameter(`unknown storage driver "${cfg.storageDriver}": want one of ${imageDrivers.map((k) => k.slice(6)).join(', ')}`);

  const loaded: AnyDriver[] = [];
  for (const [key, load] of wanted) {
    const factory = (await load()).default;
    const ctx: DriverContext = {
      sys: opts.sys,
      records: d.store,
      names: opts.names,
      log: d.log.child({ driver: key }),
      config: {
        dataRoot: cfg.dataRoot,
        execRoot: cfg.execRoot,
        bridge: cfg.bridge,
        ...(cfg.bip ? { bip: cfg.bip } : {}),
        ...(cfg.fixedCidr ? { fixedCidr: cfg.fixedCidr } : {}),
        icc: cfg.icc,
        ipForward: cfg.ipForward,
        defaultAddressPools: cfg.defaultAddressPools,
        firewallBackend: cfg.firewallBackend,
        runtime: cfg.runtime,
        storageDriver: cfg.storageDriver,
      },
    };
    const driver = await factory(ctx);
    d.engine.install(driver);
    loaded.push(driver);
  }
  for (const driver of loaded) {
    const report = await d.engine.job(`restore ${driver.kind}/${driver.name}`, () => driver.restore());
    if (report.recreated.length || report.removed.length)
      d.log.info({ driver: `${driver.kind}/${driver.name}`, ...report }, 'restored kernel state from the records');
  }
  return loaded;
}
