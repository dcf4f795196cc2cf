// The built-in drivers: one line each. Adding a driver = one folder + one line here.
import type { DriverFactory } from './driver.js';

type Loader = () => Promise<{ default: DriverFactory }>;

export const builtinDrivers = {
} as const satisfies Record<string, Loader>;

export type BuiltinDriverKey = keyof typeof builtinDrivers;
