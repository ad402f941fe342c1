"""A user's data as a whole: export it, import it, export it as a calendar, erase it."""
