"""Ingestion: events in, validated all-or-nothing, stored durably, placed into sessions."""
