"""Built files of a session (chat, transcripts, summaries): records, retention, download links."""
