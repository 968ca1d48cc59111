"""Shared infrastructure; imports no resource package."""
