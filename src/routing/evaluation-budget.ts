import { FILTER_COST } from "./filter-cost.js";

/**
 * The budget of one filter evaluation, in the units of `filter-cost.ts`, charged by the guarded AST
 * (`filter-guard.ts`) and the pricing of operations (`filter-pricing.ts`). Going over it, or over a cap, stops the
 * evaluation: it then does not match. The state is module-wide: evaluations are synchronous and never nested.
 */

let remaining = 0;
let failed = false;

/** Thrown to abort an operation over the budget or the caps; one instance, so that throwing it allocates nothing. */
const STOP = new Error("filter evaluation over its budget");
/** Thrown for a wrong operand type in a guarded operation (cel-js would raise its own error there). */
export const WRONG_TYPE = new Error("filter evaluation: no such overload");

/** Starts the budget of one evaluation. */
export function startBudget(units: number): void {
  remaining = units;
  failed = false;
}

/** Whether the evaluation just run went over its budget or a cap: then it does not match, whatever it returned. */
export function budgetExceeded(): boolean {
  return failed;
}

/** Spends `units`; throws (and marks the evaluation failed) once the budget is spent. */
export function charge(units: number): void {
  if ((remaining -= units) < 0) {
    failed = true;
    throw STOP;
  }
}

/** Stops the evaluation: a cap was hit. */
export function stop(): never {
  failed = true;
  throw STOP;
}

/**
 * Spends one loop iteration of `units` without throwing, for a loop condition: false (end the loop) once the budget
 * is spent.
 */
export function spendIteration(units: number): boolean {
  return (remaining -= units) < 0 ? !(failed = true) : true;
}

/** Charges an error that cel-js swallows; the budget's own stop is not charged again. */
export function chargeSwallowedError(error: unknown): void {
  if (error !== STOP && (remaining -= FILTER_COST.error) < 0) failed = true;
}
