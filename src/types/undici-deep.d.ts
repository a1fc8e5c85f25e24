// undici's own files, imported one by one (src/core/http.ts); their types are the package's.
declare module 'undici/lib/dispatcher/pool.js' {
  const Pool: unknown;
  export default Pool;
}
declare module 'undici/lib/dispatcher/agent.js' {
  const Agent: unknown;
  export default Agent;
}
declare module 'undici/lib/api/api-request.js' {
  const request: unknown;
  export default request;
}
declare module 'hdr-histogram-js/dist/Int32Histogram.js' {
  const Int32Histogram: unknown;
  export default Int32Histogram;
}
