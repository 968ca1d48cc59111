"""Meeting summaries: the API resource and the summarizers that write the text."""
