/**
 * Picks the TensorFlow.js backend once per process: tfjs-node when it is installed (native
 * TensorFlow), else WebAssembly, else the plain JavaScript cpu backend. The choice is logged once.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmConvGradient } from './wasm-conv-gradient';

let choice: Promise<string> | undefined;

async function tryBackend(name: string, register: () => Promise<unknown>): Promise<boolean> {
  try {
    await register();
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function choose(): Promise<string> {
  // tfjs-node is optional (its install downloads libtensorflow): named through a variable so
  // that the compiler does not look for it.
  const nativeModule = '@tensorflow/tfjs-node';
  const candidates: Array<[string, () => Promise<unknown>]> = [
    ['tensorflow', () => import(nativeModule)],
    ['wasm', () => import('@tensorflow/tfjs-backend-wasm')],
    ['cpu', async () => undefined]
  ];
  for (const [name, register] of candidates) {
    if (await tryBackend(name, register)) {
      await tf.ready();
      if (name === 'wasm') registerWasmConvGradient();
      console.info(`scanflow check: TensorFlow.js backend '${tf.getBackend()}'`);
      return tf.getBackend();
    }
  }
  throw new Error('No TensorFlow.js backend could be initialized (tried tensorflow, wasm, cpu).');
}

/** Resolves to the name of the backend in use, initializing it on the first call. */
export function tensorflowBackend(): Promise<string> {
  choice ??= choose();
  return choice;
}

export { tf };
