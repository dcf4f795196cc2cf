// Every kind of record the daemon keeps, and its type. The store is opened with these kinds.
import type { DriverRecords } from '../../drivers/driver.js';
import type { ContainerRecord } from '../containers/types.js';

export interface DaemonRecords extends DriverRecords {
  container: ContainerRecord;
}

export const RECORD_KINDS = ['network', 'endpoint', 'container'] as const satisfies readonly (keyof DaemonRecords)[];
