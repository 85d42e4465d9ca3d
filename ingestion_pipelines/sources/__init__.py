"""One folder per source (DESIGN.md §2); a source never imports another source."""
