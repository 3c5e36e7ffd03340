/**
 * Grey images (such as 28x28 MNIST digits) as PNG data URLs, the form the labeling widget shows.
 *
 * An 8-bit greyscale PNG is four chunks (signature, IHDR, IDAT, IEND) around a zlib stream, all of
 * which Node's own zlib provides (deflate and crc32), so no image library is needed here.
 */
import { crc32, deflateSync } from 'node:zlib';
import { SessionError } from './errors';

/** Grey values row by row, each in [0, 1] (0 black) or, with `max: 255`, in [0, 255]. */
export interface GreyImage {
  width: number;
  height: number;
  values: ArrayLike<number>;
  max?: 1 | 255;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The image as `data:image/png;base64,...`. */
export function greyImageDataUrl(image: GreyImage): string {
  const { width, height, values } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new SessionError(
      `An image needs whole positive width and height, got ${width}x${height}.`
    );
  }
  if (values.length !== width * height) {
    throw new SessionError(
      `A ${width}x${height} image needs ${width * height} grey values, got ${values.length}: pass one value per pixel, row by row.`
    );
  }
  const scale = 255 / (image.max ?? 1);
  // Each row starts with its filter type: 0, none.
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = Math.round(values[y * width + x] * scale);
      raw[y * (width + 1) + 1 + x] = Number.isFinite(v) ? Math.min(255, Math.max(0, v)) : 0;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per sample
  header[9] = 0; // colour type: greyscale
  const png = Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0))
  ]);
  return `data:image/png;base64,${png.toString('base64')}`;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}
