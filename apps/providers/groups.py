"""Sending SMS through a provider group: priority failover with a circuit breaker.

Each round sends every still-pending message of the batch to one provider in a single
adapter call; what comes back RETRYABLE goes to the next provider, what is ACCEPTED or
PERMANENT stops there (a bad number stays bad at every provider). A message is therefore
sent to at most one provider that accepted it."""

from __future__ import annotations

from apps.providers.adapters.base import SendResult, SendStatus, SmsMessage
from apps.providers.circuit import CircuitState, circuit_acquire, circuit_record
from apps.providers.kinds import adapter_send
from apps.providers.models import Provider, ProviderGroup, ProviderGroupMember


def group_providers(*, group: ProviderGroup) -> list[Provider]:
    """The group's active providers, priority 1 first."""
    members = (
        ProviderGroupMember.objects.filter(group=group, provider__is_active=True)
        .select_related("provider")
        .order_by("priority")
    )
    return [m.provider for m in members]


def _send(provider: Provider, messages: list[SmsMessage]) -> list[SendResult]:
    # An adapter that raises fails over to the next provider, and counts against its circuit.
    results = adapter_send(provider, messages, status_if_raised=SendStatus.RETRYABLE)
    if len(results) != len(messages):  # a broken adapter; never guess which message is which
        raise RuntimeError(
            f"{provider.kind} adapter returned {len(results)} results for {len(messages)} messages"
        )
    circuit_record(provider_id=provider.pk, results=results)
    return results


def group_send_sms(
    *, group: ProviderGroup, messages: list[SmsMessage]
) -> list[tuple[SendResult, str]]:
    """One (result, provider nickname) per message, in order. A message no provider took
    carries the last retryable result (or, if every circuit was open, a retryable result
    with an empty nickname) so the caller can retry it later."""
    outcome: list[tuple[SendResult, str] | None] = [None] * len(messages)
    pending = list(range(len(messages)))
    for provider in group_providers(group=group):
        if not pending:
            break
        state = circuit_acquire(provider_id=provider.pk)
        if state is None:
            continue
        batch = pending
        if state is CircuitState.HALF_OPEN:
            # One message probes the provider; the rest follow only if it is accepted.
            first, batch = pending[0], pending[1:]
            probe = _send(provider, [messages[first]])[0]
            outcome[first] = (probe, provider.nickname)
            if probe.status is not SendStatus.ACCEPTED:
                if probe.status is SendStatus.PERMANENT:
                    pending = batch
                continue
        pending = []
        if batch:
            for index, result in zip(
                batch, _send(provider, [messages[i] for i in batch]), strict=True
            ):
                outcome[index] = (result, provider.nickname)
                if result.status is SendStatus.RETRYABLE:
                    pending.append(index)
    for index in pending:
        if outcome[index] is None:
            outcome[index] = (
                SendResult(
                    messages[index].to,
                    SendStatus.RETRYABLE,
                    error="No provider in the group is available (inactive or circuit open).",
                ),
                "",
            )
    return outcome  # type: ignore[return-value]
