"""The demo data set: made-up but plausible meetings, chat, transcripts and call quality."""
