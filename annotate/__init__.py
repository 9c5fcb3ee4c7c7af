"""annotate: who claims what in news and analysis articles, and how the author treats each claim."""
