/**
 * The wasm backend of TensorFlow.js 4.x has no Conv2DBackpropFilter kernel, so convolutional
 * models cannot train on it (the cpu backend can, but many times slower). This registers
 * that kernel for wasm, built from ops wasm does have: for each kernel offset (kh, kw), the
 * filter gradient is the product of the strided input slice at that offset with the output
 * gradient, summed over batch and positions (one matMul per offset).
 */
import * as tf from '@tensorflow/tfjs';

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

let registered = false;

export function registerWasmConvGradient(): void {
  if (registered || tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  registered = true;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
        attrs as unknown as BackpropFilterAttrs;
      if (dataFormat === 'NCHW')
        throw new Error('Conv2DBackpropFilter on wasm: only NHWC is supported.');
      const x = inputs.x as tf.Tensor4D;
      const dy = inputs.dy as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape,
        filterShape,
        strides,
        1,
        pad,
        dimRoundingMode
      );
      const [kh, kw, inChannels, outChannels] = filterShape;
      const result = tf.tidy(() => {
        const { top, bottom, left, right } = info.padInfo;
        const padded = tf.pad(x, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0]
        ]);
        const rows = x.shape[0] * info.outHeight * info.outWidth;
        const grad = tf.reshape(dy, [rows, outChannels]);
        const offsets: tf.Tensor2D[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const slice = tf.stridedSlice(
              padded,
              [0, i, j, 0],
              [
                x.shape[0],
                i + info.strideHeight * (info.outHeight - 1) + 1,
                j + info.strideWidth * (info.outWidth - 1) + 1,
                inChannels
              ],
              [1, info.strideHeight, info.strideWidth, 1]
            );
            offsets.push(tf.matMul(tf.reshape(slice, [rows, inChannels]), grad, true, false));
          }
        }
        return tf.reshape(tf.stack(offsets), [kh, kw, inChannels, outChannels]);
      });
      return tf.keep(result);
    }
  });
}
