/** The notebook side: display bundles for Scanflow's MIME types and `show` for tslab cells. */
export * from './bundles';
export * from './display';
