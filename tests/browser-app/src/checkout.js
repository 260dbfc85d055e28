import { memoize } from "money-utils";
import { DISCOUNTS, cartTotal } from "./pricing.js";

export function applyDiscount(cart, code) {
  const rate = DISCOUNTS[code];
  if (rate === undefined) throw new Error(`Unknown discount code: ${code}`);
  return cartTotal(cart) * (1 - rate);
}

const discounted = memoize(applyDiscount);

export function checkout(cart, code) {
  const total = discounted(cart, code);
  return { items: cart.length, total };
}
