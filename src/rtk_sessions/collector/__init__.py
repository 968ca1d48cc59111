"""Live rtcstats collection: the WebSocket endpoint and its streams."""
