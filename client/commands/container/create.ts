// berth create: the container as docker's CLI creates it; prints the id.
import { readFileSync } from 'node:fs';
import type { Api } from '../../api.js';
import { defineCommand, type Io } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { buildCreateBody, parseContainerArgs, type ContainerArgs, type CreateRequest } from '../../opts/container.js';
import { createContainer } from './shared.js';

export const CONTAINER_OPTIONS = `
  -a, --attach list                  Attach to STDIN, STDOUT or STDERR
      --add-host list                Add a custom host-to-IP mapping (host:ip)
  -c, --cpu-shares int               CPU shares (relative weight)
      --cpu-period int               Limit CPU CFS (Completely Fair Scheduler) period
      --cpu-quota int                Limit CPU CFS (Completely Fair Scheduler) quota
      --cpus decimal                 Number of CPUs
      --cpuset-cpus string           CPUs in which to allow execution (0-3, 0,1)
      --cpuset-mems string           MEMs in which to allow execution (0-3, 0,1)
      --dns list                     Set custom DNS servers
      --dns-option list              Set DNS options
      --dns-search list              Set custom DNS search domains
      --domainname string            Container NIS domain name
      --entrypoint string            Overwrite the default ENTRYPOINT of the image
  -e, --env list                     Set environment variables
      --env-file list                Read in a file of environment variables
      --expose list                  Expose a port or a range of ports
  -h, --hostname string              Container host name
      --init                         Run an init inside the container
  -i, --interactive                  Keep STDIN open even if not attached
      --ip string                    IPv4 address (e.g., 172.30.100.104)
      --ip6 string                   IPv6 address (e.g., 2001:db8::33)
  -l, --label list                   Set meta data on a container
      --label-file list              Read in a line delimited file of labels
      --link list                    Add link to another container
      --mac-address string           Container MAC address (e.g., 92:d0:c6:0a:29:33)
  -m, --memory bytes                 Memory limit
      --memory-reservation bytes     Memory soft limit
      --memory-swap bytes            Swap limit equal to memory plus swap: '-1' to enable unlimited swap
      --mount mount                  Attach a filesystem mount to the container (bind or tmpfs)
      --name string                  Assign a name to the container
      --network list                 Connect a container to a network (--net)
      --network-alias list           Add network-scoped alias for the container
      --oom-kill-disable             Disable OOM Killer
  -p, --publish list                 Publish a container's port(s) to the host
  -P, --publish-all                  Publish all exposed ports to random ports
      --pids-limit int               Tune container pids limit (set -1 for unlimited)
      --pull string                  Pull image before running ("always", "missing", "never") (default "missing")
  -q, --quiet                        Suppress the pull output
      --restart string               Restart policy to apply when a container exits (default "no")
      --rm                           Automatically remove the container when it exits
      --stop-signal string           Signal to stop the container
      --stop-timeout int             Timeout (in seconds) to stop a container
      --tmpfs list                   Mount a tmpfs directory
  -t, --tty                          Allocate a pseudo-TTY
  -u, --user string                  Username or UID (format: <name|uid>[:<group|gid>])
  -v, --volume list                  Bind mount a host directory or file (SRC:DST[:OPTS])
  -w, --workdir string               Working directory inside the container

Not supported (refused): named and anonymous volumes, --volumes-from, --privileged, --cap-add,
--device, --memory-swappiness, blkio and realtime limits, and other host-level options.`;

/** The create request from parsed flags: the client's environment and files read here. */
export function createRequest(a: ContainerArgs, io: Io): CreateRequest {
  const t = io.stdoutIsTTY ? io.terminal?.size() : undefined;
  return buildCreateBody(a, {
    env: (k) => io.env[k],
    readFile: (p) => readFileSync(p, 'utf8'),
    consoleSize: t ? [t.rows, t.cols] : [0, 0],
    cwd: process.cwd(),
  });
}

export default defineCommand({
  usage: `create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate a new container\n\nOptions:${CONTAINER_OPTIONS}`,
  daemonErrorCode: EXIT.daemon,
  parse: (argv) => parseContainerArgs(argv, 'create'),
  async run(api: Api, a, io) {
    const req = createRequest(a, io);
    const id = await createContainer(api, req, io, a);
    io.out(`${id}\n`);
    return EXIT.ok;
  },
});
