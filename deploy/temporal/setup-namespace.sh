#!/bin/sh
# One-shot job (temporalio/admin-tools, Temporal CLI): creates the engine's namespace when it
# does not exist and registers the custom search attributes the subscription and merchant event workflows upsert
# (src/workflows/definitions.ts). Attributes that already exist are left alone, so the job is
# idempotent.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:?}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-30d}"

# Retries a command: the frontend answers before the namespace cache has caught up.
retry() {
  n=0
  until "$@"; do
    n=$((n + 1))
    if [ "$n" -ge 30 ]; then
      echo "gave up after $n attempts: $*" >&2
      return 1
    fi
    sleep 2
  done
}

echo "waiting for Temporal at $ADDRESS"
retry temporal operator cluster health --address "$ADDRESS" >/dev/null

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  echo "creating namespace $NAMESPACE (retention $RETENTION)"
  retry temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
fi

search_attribute() {
  name="$1"
  type="$2"
  if temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    echo "registering search attribute $name ($type)"
    retry temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$type"
  fi
}

search_attribute SubscriptionState Keyword
search_attribute NextBillingTime Datetime
search_attribute CustomerId Keyword
search_attribute SubscriptionId Keyword
search_attribute Gateway Keyword
search_attribute DunningStage Keyword
search_attribute DunningAttempts Int
search_attribute DunningNextAttemptAt Datetime
search_attribute DunningActivityAt Int
search_attribute ReconcileAt Datetime
search_attribute MerchantEventStatus Keyword
search_attribute MerchantEventType Keyword
search_attribute MerchantEventAttempts Int
search_attribute MetadataDigests KeywordList
search_attribute TestClock Keyword
# The names before the gateway-neutral ones: runs recorded before carry them, and the API's
# queries still ask for them.
search_attribute QfpayCustomerId Keyword
search_attribute QfpaySubscriptionId Keyword
echo "namespace $NAMESPACE ready"
