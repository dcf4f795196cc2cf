import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { compileFormat } from '../../format.js';

interface VersionBody {
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  BuildTime: string;
  Platform?: { Name: string };
}

export const CLIENT_VERSION = '0.1.0';
export const CLIENT_API = '1.51';

export default defineCommand({
  usage: 'version [OPTIONS]\n\nShow the berth version information\n\n  -f, --format string   Format output using a Go template',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { format: { type: 'string', short: 'f' } });
    if (args.length) throw new UsageError(`"version" accepts no arguments`);
    return { format: flags.format };
  },
  async run(api, opts, io) {
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const client = { Version: CLIENT_VERSION, ApiVersion: CLIENT_API, NodeVersion: process.version, Os: 'linux', Arch: arch };
    let server: VersionBody | undefined;
    let error: Error | undefined;
    try {
      server = (await api.call<VersionBody>('GET', '/version')).body;
    } catch (e) {
      error = e as Error;
    }
    if (opts.format) {
      const t = compileFormat(opts.format);
      io.out(t.row({ Client: client, Server: server ?? null }) + '\n');
    } else {
      io.out(
        [
          'Client:',
          ` Version:           ${client.Version}`,
          ` API version:       ${client.ApiVersion}`,
          ` Node version:      ${client.NodeVersion}`,
          ` OS/Arch:           ${client.Os}/${client.Arch}`,
          '',
        ].join('\n'),
      );
      if (server)
        io.out(
          [
            `Server: ${server.Platform?.Name ?? 'Berth Engine'}`,
            ' Engine:',
            `  Version:          ${server.Version}`,
            `  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion})`,
            `  Runtime:          ${server.GoVersion}`,
            `  Git commit:       ${server.GitCommit}`,
            `  Started:          ${server.BuildTime}`,
            `  OS/Arch:          ${server.Os}/${server.Arch}`,
            `  Kernel:           ${server.KernelVersion}`,
            '',
          ].join('\n'),
        );
    }
    if (error) throw error;
    return 0;
  },
});
