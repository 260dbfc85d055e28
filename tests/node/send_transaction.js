// One traced request as a Node service reports it with the official @sentry/node SDK.
//
//     node send_transaction.js DSN
//
// Starts the span "GET /api/products" (op http.server) with two children, a db query and a
// render function, then flushes: 11.x streams the spans as one `span` envelope item (span v2),
// not a `transaction` item. Prints one JSON line {"trace_id", "span_id", "flushed"} for the test
// that runs it (crates/vigil/tests/performance_e2e.rs), and exits 1 when the flush timed out.
'use strict';

const Sentry = require('@sentry/node');

function busyWait(milliseconds) {
  // Some real work in each span, so none has a zero duration.
  const until = Date.now() + milliseconds;
  while (Date.now() < until) {
    // spin
  }
}

async function main() {
  const dsn = process.argv[2];
  if (!dsn) {
    console.error('usage: node send_transaction.js DSN');
    process.exit(2);
  }
  Sentry.init({
    dsn,
    tracesSampleRate: 1.0,
    release: 'storefront@3.1.0',
    environment: 'production',
  });

  const ids = Sentry.startSpan({ name: 'GET /api/products', op: 'http.server' }, (root) => {
    Sentry.startSpan({ name: 'SELECT * FROM products WHERE category = $1', op: 'db' }, () => busyWait(15));
    Sentry.startSpan({ name: 'render product list', op: 'function' }, () => busyWait(10));
    const context = root.spanContext();
    return { trace_id: context.traceId, span_id: context.spanId };
  });

  const flushed = await Sentry.flush(5000);
  console.log(JSON.stringify({ ...ids, flushed }));
  process.exit(flushed ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
