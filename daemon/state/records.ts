// Every kind of record the daemon keeps, and its type. The store is opened with these kinds.
import type { DriverRecords } from '../../drivers/driver.js';
import type { ContainerRecord } from '../containers/types.js';
import type { ImageRecord } from '../images/types.js';

export interface DaemonRecords extends DriverRecords {
  container: ContainerRecord;
  image: ImageRecord;
}

export const RECORD_KINDS = ['network', 'endpoint', 'container', 'image'] as const satisfies readonly (keyof DaemonRecords)[];
