export { runLocalDemo, clusterTable, type LocalDemoOptions, type UserResult } from './local-demo.ts';
export { deliver, type Transport, type Delivered } from './deliver.ts';
