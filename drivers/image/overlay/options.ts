// The overlayfs mount data for a container, pure. Paths are relative to the driver's root (mount
// runs there), so each layer costs ~15 bytes ("l/<12 chars>:") of the one-page data string.
import { invalidParameter } from '../../errors.js';

/** Linux copies at most one page (4096 bytes, NUL included) of mount data. */
export const MOUNT_DATA_MAX = 4095;

export function overlayOptions(lowerTopFirst: string[], upper: string, work: string): string[] {
  if (lowerTopFirst.length === 0) throw invalidParameter('overlay needs at least one lower layer');
  for (const p of [...lowerTopFirst, upper, work]) if (/[,:\n\0]/.test(p) || p === '') throw invalidParameter(`invalid overlay path "${p}"`);
  const opts = [`lowerdir=${lowerTopFirst.join(':')}`, `upperdir=${upper}`, `workdir=${work}`];
  const len = opts.join(',').length;
  if (len > MOUNT_DATA_MAX)
    throw invalidParameter(`image has too many layers for overlay (${lowerTopFirst.length}: ${len} bytes of mount options, the kernel takes ${MOUNT_DATA_MAX})`);
  return opts;
}
