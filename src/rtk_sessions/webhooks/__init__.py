"""Outgoing webhooks, RealtimeKit style: subscriptions, signed durable delivery (docs/webhooks.md)."""
