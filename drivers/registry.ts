// The built-in drivers: one line each. Adding a driver = one folder + one line here.
import type { DriverFactory } from './driver.js';

type Loader = () => Promise<{ default: DriverFactory }>;

export const builtinDrivers = {
  'network/bridge': () => import('./network/bridge/index.js'),
  'network/host': () => import('./network/host/index.js'),
  'network/none': () => import('./network/none/index.js'),
  'network/container': () => import('./network/container/index.js'),
  'exec/runc': () => import('./exec/runc/index.js'),
  'image/overlay': () => import('./image/overlay/index.js'),
  'image/vfs': () => import('./image/vfs/index.js'),
} as const satisfies Record<string, Loader>;

export type BuiltinDriverKey = keyof typeof builtinDrivers;
