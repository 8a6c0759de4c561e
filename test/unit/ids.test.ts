import { leadWorkflowId, ledgerChargeKey, ledgerRefundKey, offerWorkflowId } from '../../domain/ids';

describe('ids', () => {
  it('a lead has one workflow id derived from its id, so intake retries cannot start a second one', () => {
    expect(leadWorkflowId('abc')).toBe('lead-abc');
    expect(leadWorkflowId('abc')).toBe(leadWorkflowId('abc'));
  });

  it('each offer of a lead gets its own child workflow id by sequence number', () => {
    expect(offerWorkflowId('abc', 1)).toBe('lead-abc-offer-1');
    expect(offerWorkflowId('abc', 2)).not.toBe(offerWorkflowId('abc', 1));
  });

  it('the charge key is per offer and buyer, so a retried charge hits the same ledger row', () => {
    expect(ledgerChargeKey('o1', 'b1')).toBe('offer:o1:buyer:b1');
    expect(ledgerChargeKey('o1', 'b2')).not.toBe(ledgerChargeKey('o1', 'b1'));
  });

  it('the refund key is per assignment', () => {
    expect(ledgerRefundKey('a1')).toBe('refund:a1');
  });
});
