"""rtk-sessions: a self-hosted Cloudflare RealtimeKit Sessions API."""

__version__ = "0.1.0"
