import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';

/** Registered on the dev server by temporal/dev-server.ts and in docker-compose: ops find workflows by these. */
const LeadIdKey = defineSearchAttributeKey('LeadId', SearchAttributeType.KEYWORD);
const CampaignIdKey = defineSearchAttributeKey('CampaignId', SearchAttributeType.KEYWORD);
const AgencyIdKey = defineSearchAttributeKey('AgencyId', SearchAttributeType.KEYWORD);

export function leadSearchAttributes(leadId: string, campaignId: string, agencyId: string): SearchAttributePair[] {
  return [
    { key: LeadIdKey, value: leadId },
    { key: CampaignIdKey, value: campaignId },
    { key: AgencyIdKey, value: agencyId },
  ];
}
