/** A container's log, line by line, from Docker's multiplexed stream. */
import type Docker from 'dockerode';
import { Writable } from 'node:stream';
import { LineSplitter } from '../run/lines';

/**
 * Follows a container's stdout and stderr from `sinceSeconds` (epoch seconds; default: all) and
 * calls `onLine` for each line; resolves with the stream once attached (undefined when the
 * container is gone already).
 */
export async function followContainerLogs(
  container: Docker.Container,
  onLine: (stream: 'stdout' | 'stderr', line: string) => void,
  sinceSeconds?: number
): Promise<NodeJS.ReadableStream | undefined> {
  const stream = (await container
    .logs({ follow: true, stdout: true, stderr: true, since: sinceSeconds })
    .catch(() => undefined)) as NodeJS.ReadableStream | undefined;
  if (!stream) return undefined;
  const sink = (kind: 'stdout' | 'stderr') => {
    const lines = new LineSplitter(line => onLine(kind, line));
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk);
        callback();
      }
    });
  };
  container.modem.demuxStream(stream, sink('stdout'), sink('stderr'));
  return stream;
}
