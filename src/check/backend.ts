/**
 * TensorFlow.js, loaded on first use, and its backend, picked once per process: tfjs-node when it
 * is installed (native TensorFlow), else WebAssembly, else the plain JavaScript cpu backend. The
 * choice is logged once.
 */
import type * as TensorFlow from '@tensorflow/tfjs';

let library: typeof TensorFlow | undefined;

/**
 * TensorFlow.js, loaded the first time one of its members is read: most users of the package (the
 * CLI, a notebook that defines and runs workflows) never train a model, and loading it costs a
 * good part of a second.
 */
const tf = new Proxy({} as typeof TensorFlow, {
  get: (_target, name) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    library ??= require('@tensorflow/tfjs') as typeof TensorFlow;
    return Reflect.get(library, name);
  }
});

/* eslint-disable @typescript-eslint/no-namespace -- types merged into the value `tf` */
/** The TensorFlow.js types the checker and improver name as `tf.X` (the value above has none). */
declare namespace tf {
  type LayersModel = TensorFlow.LayersModel;
  type Sequential = TensorFlow.Sequential;
  type SymbolicTensor = TensorFlow.SymbolicTensor;
  type Tensor<R extends TensorFlow.Rank = TensorFlow.Rank> = TensorFlow.Tensor<R>;
  type Tensor2D = TensorFlow.Tensor2D;
  namespace layers {
    type Layer = TensorFlow.layers.Layer;
  }
  namespace io {
    type ModelArtifacts = TensorFlow.io.ModelArtifacts;
  }
  namespace serialization {
    type ConfigDict = TensorFlow.serialization.ConfigDict;
  }
}
/* eslint-enable @typescript-eslint/no-namespace */

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
      if (name === 'cpu') skipNodeBackendAdvert();
      if (name === 'wasm') (await import('./wasm-conv-gradient')).registerWasmConvGradient();
      console.info(`scanflow check: TensorFlow.js backend '${tf.getBackend()}'`);
      return tf.getBackend();
    }
  }
  throw new Error('No TensorFlow.js backend could be initialized (tried tensorflow, wasm, cpu).');
}

/**
 * The cpu backend prints an advert for tfjs-node ("Hi, looks like you are running TensorFlow.js in
 * Node.js. To speed things up dramatically, install our node backend...") when it first stores a
 * tensor in Node: noise in every step log, as tfjs-node was tried first and is not installed. Its
 * only condition is the IS_NODE flag, so that first tensor is stored with the flag off; the flag
 * is restored at once, and every other warning still prints.
 */
function skipNodeBackendAdvert(): void {
  const flags = tf.env();
  const isNode = flags.getBool('IS_NODE');
  flags.set('IS_NODE', false);
  try {
    tf.scalar(0).dispose();
  } finally {
    flags.set('IS_NODE', isNode);
  }
}

/** Resolves to the name of the backend in use, initializing it on the first call. */
export function tensorflowBackend(): Promise<string> {
  choice ??= choose();
  return choice;
}

export { tf };
