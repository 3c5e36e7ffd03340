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

/** The last `count` lines a container printed (stdout and stderr), or none when it is gone. */
export async function containerTail(container: Docker.Container, count = 20): Promise<string[]> {
  const buffer = (await container
    .logs({ follow: false, stdout: true, stderr: true, tail: count })
    .catch(() => undefined)) as Buffer | undefined;
  if (!buffer) return [];
  return demuxedText(buffer).split(/\r?\n/).filter(Boolean);
}

/**
 * The text of a log in Docker's multiplexed format (8-byte frame headers: stream, 0, 0, 0 and a
 * big-endian length); plain text when the container has a TTY.
 */
function demuxedText(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length && [1, 2].includes(buffer[offset])) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return offset === 0 ? buffer.toString() : Buffer.concat(parts).toString();
}
