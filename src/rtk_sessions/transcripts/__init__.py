"""Transcripts: per-session transcript files (CSV, JSON, SRT, VTT) and their routes."""
