// The test app: starts the real @sentry/browser with the DSN and release the page's query
// string names, then fails at checkout (an uncaught error, caught by the SDK's global handler).
import * as Sentry from "@sentry/browser";
import { checkout } from "./checkout.js";

const params = new URLSearchParams(window.location.search);
Sentry.init({ dsn: params.get("dsn"), release: params.get("release") || undefined });

const cart = [
  { sku: "tea", price: 4.5, quantity: 2 },
  { sku: "mug", price: 12, quantity: 1 },
];
setTimeout(() => {
  document.getElementById("total").textContent = JSON.stringify(checkout(cart, params.get("code")));
}, 0);
setTimeout(async () => {
  await Sentry.flush(10000);
  window.vigilDone = true;
}, 200);
