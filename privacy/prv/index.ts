/**
 * privacy/prv: the PRV accountant (Gopi, Lee, Wutschitz 2021), equal to Opacus' PRVAccountant.
 * `prvAccountant` plugs into the shared Accountant contract; the rest is the machinery, exported
 * for tests, benchmarks and the CLI's calculators.
 */
export { prvAccountant, prvEpsilon, prvDomain, DEFAULT_EPS_ERROR, DEFAULT_MAX_DOMAIN_POINTS } from './accountant.ts';
export type { PrvOptions, PrvResult } from './accountant.ts';
export { PoissonSubsampledGaussianPRV, TruncatedPRV } from './prvs.ts';
export type { MeanBreakpoints } from './prvs.ts';
export { Domain, computeSafeDomainSize, meshSize } from './domain.ts';
export type { RdpEpsilonFn } from './domain.ts';
export { discretize, computeEpsilon } from './discrete.ts';
export type { DiscretePRV, EpsilonBounds } from './discrete.ts';
export { composeFourier, composeTwo, composeHeterogeneous } from './compose.ts';
export { integrateQags } from './quadrature.ts';
export type { QuadOptions, QuadResult } from './quadrature.ts';
