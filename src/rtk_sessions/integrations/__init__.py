"""Meeting data from other platforms: RealtimeKit and LiveKit webhooks, RealtimeKit's history
(docs/integrations.md)."""
