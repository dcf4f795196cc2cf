// Every kind of record the daemon keeps, and its type. The store is opened with these kinds.
import type { DriverRecords } from '../../drivers/driver.js';

export interface DaemonRecords extends DriverRecords {}

export const RECORD_KINDS = ['network', 'endpoint'] as const satisfies readonly (keyof DaemonRecords)[];
