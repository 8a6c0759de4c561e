#!/bin/sh
# One-shot (temporal-register service): the namespace and the search attributes Leadwire
# stamps on every lead workflow (workflows/search-attributes.ts), so ops can run
#   temporal workflow list --query 'LeadId="…"'
set -eu
NS=${TEMPORAL_NAMESPACE:-default}
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"; sleep 2
done
temporal operator namespace describe -n "$NS" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 \
  || temporal operator namespace create -n "$NS" --retention 720h --address "$TEMPORAL_ADDRESS"
for attr in LeadId CampaignId AgencyId; do
  temporal operator search-attribute list -n "$NS" --address "$TEMPORAL_ADDRESS" | grep -q "^ *$attr " \
    || temporal operator search-attribute create -n "$NS" --name "$attr" --type Keyword --address "$TEMPORAL_ADDRESS"
done
echo "namespace $NS and search attributes ready"
