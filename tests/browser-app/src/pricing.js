import { roundCents } from "money-utils";

export const DISCOUNTS = { SPRING10: 0.1, VIP: 0.25 };

export function cartTotal(cart) {
  return roundCents(cart.reduce((sum, item) => sum + item.price * item.quantity, 0));
}
