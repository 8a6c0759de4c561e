/**
 * Rising-rate measurement shared by `throughput` (Leadwire's leads) and
 * `engine_floor` (the engine's least workflow): send open-loop at a fixed rate
 * for a step, judge the step by one set of saturation rules, and climb the
 * rates until a step saturates. One definition, so the two sustained rates
 * compared in bench/RESULTS.md are judged the same way.
 */
import { nowMs, sleep } from './client';

/** At most this many sends in flight: past it the sender waits (the step then shows as saturated). */
const MAX_OUTSTANDING = 1000;

export interface OpenLoop {
  /** When the step started (nowMs()). */
  start: number;
  sent: number;
  /** Sends still awaiting their answer. */
  outstanding(): number;
}

/** Calls `send` `rate` times a second for `seconds`, without waiting for the answers (open loop). */
export async function sendOpenLoop(
  rate: number,
  seconds: number,
  send: (sentAt: number) => Promise<void>,
): Promise<OpenLoop> {
  const start = nowMs();
  let sent = 0;
  let outstanding = 0;
  while (nowMs() - start < seconds * 1000) {
    const due = Math.floor(((nowMs() - start) / 1000) * rate);
    while (sent < due && outstanding < MAX_OUTSTANDING) {
      sent++;
      outstanding++;
      void send(nowMs()).finally(() => outstanding--);
    }
    await sleep(5);
  }
  return { start, sent, outstanding: () => outstanding };
}

export interface StepOutcome {
  rate: number;
  seconds: number;
  sent: number;
  /** Sends the system accepted (202 / workflow started). */
  accepted: number;
  /** Accepted items that reached their end (delivered / workflow's row written). */
  completed: number;
  intakeErrors: number;
  /** Step start and the last completion (nowMs() clock). */
  start: number;
  lastDone: number;
  /** End-to-end p99 (ms), send to end. */
  p99: number | null;
}

export interface StepJudgement {
  /** Completed items per second of sending. */
  achievedRate: number;
  /** How long after the last send the last completion came. */
  backlogSeconds: number;
  saturated: boolean;
  why: string | null;
}

/**
 * A step is saturated when intake fails, an item does not complete within the
 * drain, the achieved rate is under 90% of the offered one, the last
 * completion trails the last send by more than max(2 s, step/4), or the
 * end-to-end p99 passes 5 s.
 */
export function judgeStep(s: StepOutcome, noun = 'leads', done = 'delivered'): StepJudgement {
  const achievedRate = Math.round((s.completed / Math.max(1e-9, s.sent / s.rate)) * 10) / 10;
  const backlogSeconds = Math.round(((s.lastDone - s.start) / 1000 - s.sent / s.rate) * 10) / 10;
  let why: string | null = null;
  if (s.intakeErrors > 0) why = `${s.intakeErrors} intake errors`;
  else if (s.completed < s.accepted)
    why = `${s.accepted - s.completed} of ${s.accepted} ${noun} not ${done} within the drain`;
  else if (achievedRate < s.rate * 0.9) why = `achieved ${achievedRate}/s < 90% of ${s.rate}/s`;
  else if (backlogSeconds > Math.max(2, s.seconds / 4))
    why = `falling behind: the last completion came ${backlogSeconds}s after the last send`;
  else if ((s.p99 ?? 0) > 5_000) why = `end-to-end p99 ${s.p99} ms > 5 s`;
  return { achievedRate, backlogSeconds, saturated: why !== null, why };
}

/** Runs `step` at each rate in turn, stopping after the first saturated one. */
export async function climbRates<S extends StepJudgement>(
  rates: number[],
  step: (rate: number) => Promise<S>,
): Promise<S[]> {
  const steps: S[] = [];
  for (const rate of rates) {
    const s = await step(rate);
    steps.push(s);
    if (s.saturated) break;
  }
  return steps;
}

/** The last step that kept up (the sustained rate), and the first that did not. */
export function sustained<S extends StepJudgement>(steps: S[]): { best: S | null; saturatedAt: S | null } {
  const kept = steps.filter((s) => !s.saturated);
  return { best: kept.length ? kept[kept.length - 1]! : null, saturatedAt: steps.find((s) => s.saturated) ?? null };
}
