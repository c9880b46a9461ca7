/** The data of the n-th prefill event of the delivery benches; their bare-loop baselines send the same text. */
export function webhookData(n: number): string {
  return `{"msg":"data","n":${n},"timestamp":"1700000000"}`;
}
