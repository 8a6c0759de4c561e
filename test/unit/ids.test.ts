import fc from 'fast-check';

import * as ids from '../../domain/ids';
import {
  leadWorkflowId,
  ledgerChargeKey,
  ledgerRefundKey,
  offerWorkflowId,
  type ParsedWorkflowId,
  parseWorkflowId,
  redeliveryWorkflowId,
  returnReofferWorkflowId,
} from '../../domain/ids';

describe('ids', () => {
  it('a lead has one workflow id derived from its id, so intake retries cannot start a second one', () => {
    expect(leadWorkflowId('abc')).toBe('lead-abc');
    expect(leadWorkflowId('abc')).toBe(leadWorkflowId('abc'));
  });

  it('each offer of a lead gets its own child workflow id by sequence number', () => {
    expect(offerWorkflowId('abc', 1)).toBe('lead-abc-offer-1');
    expect(offerWorkflowId('abc', 2)).not.toBe(offerWorkflowId('abc', 1));
  });

  it("a returned lead's re-offer names its children after itself, never like the first run's", () => {
    expect(offerWorkflowId('abc', 1, 'd1')).toBe(`${returnReofferWorkflowId('abc', 'd1')}-offer-1`);
    expect(offerWorkflowId('abc', 1, 'd1')).not.toBe(offerWorkflowId('abc', 1));
    expect(offerWorkflowId('abc', 1, 'd1')).not.toBe(offerWorkflowId('abc', 1, 'd2'));
  });

  it('the charge key is per offer and buyer, so a retried charge hits the same ledger row', () => {
    expect(ledgerChargeKey('o1', 'b1')).toBe('offer:o1:buyer:b1');
    expect(ledgerChargeKey('o1', 'b2')).not.toBe(ledgerChargeKey('o1', 'b1'));
  });

  it('the refund key is per assignment', () => {
    expect(ledgerRefundKey('a1')).toBe('refund:a1');
  });

  /** Every workflow id builder, with how to build an id from what its parse gives back. */
  const FORMS: Record<string, (p: ParsedWorkflowId) => string> = {
    leadWorkflowId: (p) => (p.kind === 'lead' ? leadWorkflowId(p.leadId) : ''),
    offerWorkflowId: (p) => (p.kind === 'offer' ? offerWorkflowId(p.leadId, p.seq, p.disputeId) : ''),
    returnReofferWorkflowId: (p) => (p.kind === 'return' ? returnReofferWorkflowId(p.leadId, p.disputeId) : ''),
    redeliveryWorkflowId: (p) =>
      p.kind === 'redelivery' ? redeliveryWorkflowId(p.assignmentId, p.channel, p.nonce) : '',
  };

  const BUILDER: Record<ParsedWorkflowId['kind'], string> = {
    lead: 'leadWorkflowId',
    offer: 'offerWorkflowId',
    return: 'returnReofferWorkflowId',
    redelivery: 'redeliveryWorkflowId',
  };

  it('parseWorkflowId knows every form of workflow id built here', () => {
    const builders = Object.keys(ids).filter((name) => name.endsWith('WorkflowId') && name !== 'parseWorkflowId');
    expect(builders.sort()).toEqual(Object.keys(FORMS).sort());
  });

  it('parseWorkflowId gives back what each form was built from (round trip, uuid ids)', () => {
    fc.assert(
      fc.property(
        fc.uuid(),
        fc.uuid(),
        fc.integer({ min: 1, max: 10_000 }),
        fc.constantFrom('webhook', 'email', 'sms', 'voice'),
        (leadId, otherId, seq, channel) => {
          const cases: [string, ParsedWorkflowId][] = [
            [leadWorkflowId(leadId), { kind: 'lead', leadId }],
            [offerWorkflowId(leadId, seq), { kind: 'offer', leadId, seq }],
            [offerWorkflowId(leadId, seq, otherId), { kind: 'offer', leadId, seq, disputeId: otherId }],
            [returnReofferWorkflowId(leadId, otherId), { kind: 'return', leadId, disputeId: otherId }],
            [
              redeliveryWorkflowId(leadId, channel, otherId),
              { kind: 'redelivery', assignmentId: leadId, channel, nonce: otherId },
            ],
          ];
          for (const [id, parsed] of cases) {
            expect(parseWorkflowId(id)).toEqual(parsed);
            expect(FORMS[BUILDER[parsed.kind]]!(parsed)).toBe(id);
          }
        },
      ),
    );
  });

  it('parseWorkflowId refuses ids it did not build', () => {
    for (const id of ['', 'lead-', 'offer-abc', 'redelivery-abc', 'lead', 'LEAD-abc'])
      expect(parseWorkflowId(id)).toBeNull();
    expect(parseWorkflowId('lead-abc-offer-x')).toEqual({ kind: 'lead', leadId: 'abc-offer-x' });
  });
});
