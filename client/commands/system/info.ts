import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { compileFormat } from '../../format.js';

type Info = Record<string, unknown> & {
  Swarm?: { LocalNodeState?: string };
  Plugins?: { Network?: string[]; Log?: string[] };
  RegistryConfig?: { Mirrors?: string[] };
};

export default defineCommand({
  usage: 'info [OPTIONS]\n\nDisplay system-wide information\n\n  -f, --format string   Format output using a Go template',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { format: { type: 'string', short: 'f' } });
    if (args.length) throw new UsageError(`"info" accepts no arguments`);
    return { format: flags.format };
  },
  async run(api, opts, io) {
    const { body: i } = await api.call<Info>('GET', '/info');
    if (opts.format) {
      io.out(compileFormat(opts.format).row(i) + '\n');
      return 0;
    }
    const lines = [
      'Server:',
      ` Containers: ${i.Containers}`,
      `  Running: ${i.ContainersRunning}`,
      `  Paused: ${i.ContainersPaused}`,
      `  Stopped: ${i.ContainersStopped}`,
      ` Images: ${i.Images}`,
      ` Server Version: ${i.ServerVersion}`,
      ` Storage Driver: ${i.Driver}`,
      ` Logging Driver: ${i.LoggingDriver}`,
      ` Cgroup Driver: ${i.CgroupDriver}`,
      ` Cgroup Version: ${i.CgroupVersion}`,
      ' Plugins:',
      `  Network: ${(i.Plugins?.Network ?? []).join(' ')}`,
      `  Log: ${(i.Plugins?.Log ?? []).join(' ')}`,
      ` Swarm: ${i.Swarm?.LocalNodeState ?? 'inactive'}`,
      ` Runtimes: ${Object.keys((i.Runtimes as object) ?? {}).join(' ')}`,
      ` Default Runtime: ${i.DefaultRuntime}`,
      ` Kernel Version: ${i.KernelVersion}`,
      ` Operating System: ${i.OperatingSystem}`,
      ` OSType: ${i.OSType}`,
      ` Architecture: ${i.Architecture}`,
      ` CPUs: ${i.NCPU}`,
      ` Total Memory: ${((i.MemTotal as number) / 2 ** 30).toFixed(2)}GiB`,
      ` Name: ${i.Name}`,
      ` ID: ${i.ID}`,
      ` Berth Root Dir: ${i.DockerRootDir}`,
      ` Debug Mode: ${i.Debug}`,
      ` Live Restore Enabled: ${i.LiveRestoreEnabled}`,
      '',
    ];
    io.out(lines.join('\n'));
    return 0;
  },
});
