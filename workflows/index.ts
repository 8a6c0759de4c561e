// The workflow bundle's entry point: the worker loads every workflow from here.
export { leadWorkflow, offerWorkflow } from './lead';
export { redeliveryWorkflow } from './redelivery';
export { rechargeWorkflow } from './recharge';
export {
  eraseExpiredLeadsWorkflow,
  expireRecordsWorkflow,
  foldReportsWorkflow,
  restartStuckLeadsWorkflow,
  rotateSecretsWorkflow,
} from './periodic';
export { reconcilePaymentsWorkflow } from './reconcile';
