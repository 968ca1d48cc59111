"""Work nobody asked for this request: the job table, the maintenance loop and the idle sweep."""
