"""Sending push messages through the account's push routes: each message through its device
platform's provider, one adapter call per provider (so each keeps its batch concurrency),
answers in the messages' order. Used by the delivery engine's batches and the Test step."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from apps.providers.adapters.base import PushMessage, SendResult, SendStatus
from apps.providers.kinds import adapter_send
from apps.providers.models import Provider
from apps.providers.routing import PushRoutes

# One thread per extra provider of a mixed batch: each adapter call waits on the network (the
# shared aiohttp loop does the sending), so FCM's, APNs' and Web Push's requests of one batch
# are in flight together instead of one provider after the other. Adapters touch no database.
_OTHER_PROVIDERS = ThreadPoolExecutor(max_workers=3, thread_name_prefix="push-provider")


def push_provider(routes: PushRoutes, message: PushMessage) -> Provider | None:
    """The provider a message's device goes through (a subscription needs Web Push)."""
    return routes.provider_for(message.platform, web_subscription=bool(message.subscription_keys))


def push_routes_send(
    routes: PushRoutes, messages: Sequence[PushMessage]
) -> list[tuple[SendResult, Provider | None]]:
    """(result, provider) per message, in order. A message whose platform has no provider
    is not sent: its result is PERMANENT with the route's problem (the engine skips such
    rows before they get here; a test send shows the sentence)."""
    answers: list[tuple[SendResult, Provider | None] | None] = [None] * len(messages)
    by_provider: dict[int, tuple[Provider, list[int]]] = {}
    for index, message in enumerate(messages):
        provider = push_provider(routes, message)
        if provider is None:
            problem = routes.problem_for(
                message.platform, web_subscription=bool(message.subscription_keys)
            )
            answers[index] = (SendResult(message.token, SendStatus.PERMANENT, error=problem), None)
            continue
        by_provider.setdefault(provider.pk, (provider, []))[1].append(index)
    groups = list(by_provider.values())

    def send(group: tuple[Provider, list[int]]) -> list[SendResult]:
        provider, indexes = group
        return adapter_send(provider, [messages[i] for i in indexes])

    others = [_OTHER_PROVIDERS.submit(send, group) for group in groups[1:]]
    results = [send(groups[0])] if groups else []
    results += [future.result() for future in others]
    for (provider, indexes), provider_results in zip(groups, results, strict=True):
        for index, result in zip(indexes, provider_results, strict=True):
            answers[index] = (result, provider)
    return [answer for answer in answers if answer is not None]


def unregistered_tokens(
    messages: Sequence[PushMessage], results: Sequence[SendResult]
) -> dict[str, str]:
    """token → the provider's words, for every message whose provider called its token gone
    for good (what audience.services.devices_deactivate takes)."""
    return {
        message.token: result.error or "Unregistered"
        for message, result in zip(messages, results, strict=True)
        if result.unregistered
    }
