"""Chat: the per-session chat export (CSV) and the routes that hand out its URL."""
